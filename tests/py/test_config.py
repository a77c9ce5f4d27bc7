"""Settings: each declared once (python/subcorn/config.py) and given by the
command line, a SUBCORN_* variable, a config file (-c, or [tool.subcorn] in
pyproject.toml) or subcorn.run's keywords; --print-config; what a worker
process is handed; --env-file. subcorn only (docs/configuration.md)."""

from __future__ import annotations

import enum
import itertools
import json
import signal
import subprocess
import sys
import textwrap
import time
import tomllib

import pytest

from harness import APPS, RawConn, Server, free_port, run_cli, server_env
from subcorn import _env_file, _sources, cli
from subcorn._run import import_string_of
from subcorn.settings import ConfigError

pytestmark = pytest.mark.subcorn_only

PROBE = "settings_probe:app"


def resolve(argv: list[str], environ: dict[str, str] | None = None) -> _sources.Resolved:
    """What `subcorn ARGV` would serve with, as cli.main works it out."""
    given = vars(cli.build_parser().parse_args(argv))
    config_file = given.pop("config_file")
    given.pop("print_config")
    return _sources.resolve(given, config_file=config_file, environ=environ or {})


# ---------------------------------------------------------------- every setting, three ways

def sample(s, tmp_path) -> object:
    """A value that is not the setting's default and passes its own check."""
    special = {"app": "sample_module:sample_app", "forwarded_allow_ips": "10.0.0.0/8",
               "reload_dirs": [str(tmp_path)], "headers": ["x-one: 1", "x-two: 2"],
               "static": [f"/one:{tmp_path}", f"/two:{tmp_path}"],
               "uds_permissions": "0o640", "bind": ["127.0.0.1:8001", "unix:/tmp/x.sock"]}
    if s.name in special:
        return special[s.name]
    default = s.default_value()
    if s.kind is bool:
        return not default
    if s.kind is int:
        return (default or 0) + 7
    if s.kind is float:
        return (default or 0) + 1.5
    if s.kind is list:
        return ["one", "two"]
    if issubclass(s.kind, enum.Enum):
        return next(member for member in s.kind if member != default).value
    path = tmp_path / "sample-file"  # an existing file, an absolute path: every str's check
    path.write_text("")
    return str(path)


def as_text(value: object, separator: str = ",") -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return separator.join(value)
    return str(value)


def as_argv(s, value: object) -> list[str]:
    if s.declared.positional:
        return [as_text(value)]
    if s.kind is bool:
        return [s.option if value else "--no-" + s.option[2:]]
    if s.kind is list:
        return [arg for item in value for arg in (s.option, item)]
    return [s.option, as_text(value)]


def as_toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value)  # strings and lists of strings: JSON's syntax is TOML's


def test_every_setting_is_given_by_file_env_and_cli(tmp_path):
    """A setting declared without a file key, a variable or a flag fails here."""
    settings = _sources.public_settings()
    samples = {s.name: sample(s, tmp_path) for s in settings}
    path = tmp_path / "all.toml"
    path.write_text("".join(f"{s.name} = {as_toml(samples[s.name])}\n" for s in settings))
    by_file = resolve(["-c", str(path)])
    env = {s.env[0]: as_text(samples[s.name], s.declared.env_separator) for s in settings}
    by_env = resolve([], env)
    by_cli = resolve([arg for s in settings for arg in as_argv(s, samples[s.name])])
    for s in settings:
        expected = s.checked(samples[s.name])
        assert expected != s.checked(s.default_value()), f"{s.name}: the sample is the default"
        for resolved, source in [(by_file, f"file {path}"), (by_env, f"env {s.env[0]}"),
                                 (by_cli, "cli")]:
            assert resolved.values[s.name] == expected, (s.name, source)
            assert str(resolved.sources[s.name]) == source, s.name


@pytest.mark.parametrize("in_file, in_env, in_cli", list(itertools.product([False, True], repeat=3)))
def test_precedence_cli_then_env_then_file_then_default(tmp_path, in_file, in_env, in_cli):
    path = tmp_path / "subcorn.toml"
    path.write_text("timeout_keep_alive = 1.0\n" if in_file else "")
    argv = ["hello:app", "-c", str(path)] + (["--timeout-keep-alive", "3"] if in_cli else [])
    env = {"SUBCORN_TIMEOUT_KEEP_ALIVE": "2"} if in_env else {}
    resolved = resolve(argv, env)
    expected = 3.0 if in_cli else 2.0 if in_env else 1.0 if in_file else 5.0
    source = ("cli" if in_cli else "env SUBCORN_TIMEOUT_KEEP_ALIVE" if in_env
              else f"file {path}" if in_file else "default")
    assert resolved.values["timeout_keep_alive"] == expected
    assert str(resolved.sources["timeout_keep_alive"]) == source


def test_file_keys_take_either_spelling_and_aliases(tmp_path):
    path = tmp_path / "subcorn.toml"
    path.write_text('timeout-keep-alive = 7\nroot_path = "/x"\nlimit-max-requests = 40\n'
                    'http = 2\nssl-cert-reqs = 1\n')
    values = resolve(["hello:app", "-c", str(path)]).values
    assert values["timeout_keep_alive"] == 7.0 and values["root_path"] == "/x"
    assert values["max_requests"] == 40
    assert str(values["http"]) == "2" and str(values["ssl_cert_reqs"]) == "optional"


def test_limit_max_requests_is_max_requests():
    assert resolve(["hello:app", "--limit-max-requests", "12"]).values["max_requests"] == 12


def test_hidden_settings_cannot_be_given(tmp_path):
    path = tmp_path / "subcorn.toml"
    path.write_text("supervised = true\n")
    with pytest.raises(ConfigError, match="unknown setting 'supervised'"):
        resolve(["hello:app", "-c", str(path)])
    with pytest.raises(SystemExit):
        resolve(["hello:app", "--supervised"])
    assert resolve(["hello:app"], {"SUBCORN_SUPERVISED": "1"}).config().supervised is False


def one_error(done) -> str:
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ERROR:"), done.stderr
    return lines[0]


@pytest.mark.parametrize("text, mentions", [
    ("timeout_keepalive = 3\n", ["unknown setting 'timeout_keepalive'",
                                 "did you mean 'timeout_keep_alive'"]),
    ("workers = \"four\"\n", ["workers", "expected an integer", "'four'"]),
    ("proxy_headers = \"maybe\"\n", ["proxy_headers", "expected true or false"]),
    ("mode = \"threads\"\n", ["--mode must be auto, interpreters or processes", "from file"]),
    ("port = 70000\n", ["--port must be between 0 and 65535", "from file"]),
    ("root_path = \"/a\"\nroot-path = \"/b\"\n", ["root_path is given twice"]),
    ("port = \n", ["not valid TOML"]),
])
def test_bad_config_file_is_one_line_naming_file_and_key(tmp_path, text, mentions):
    path = tmp_path / "subcorn.toml"
    path.write_text(text)
    line = one_error(run_cli(["hello:app", "-c", str(path)], cwd=tmp_path))
    assert str(path) in line
    for mention in mentions:
        assert mention in line, line


def test_bad_variable_is_one_line():
    line = one_error(run_cli(["hello:app"], env={"SUBCORN_WORKERS": "many"}))
    assert "SUBCORN_WORKERS: expected an integer, not 'many'" in line


def test_pyproject_of_the_app_directory(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.subcorn]\n'
                                             'app = "hello:app"\nroot-path = "/py"\n')
    from_app_dir = resolve(["--app-dir", str(tmp_path)])
    assert from_app_dir.values["app"] == "hello:app"
    assert str(from_app_dir.sources["root_path"]) == f"file {tmp_path / 'pyproject.toml'}"
    # -c replaces it: the pyproject is not read at all.
    other = tmp_path / "other.toml"
    other.write_text("workers = 3\n")
    with_c = resolve(["--app-dir", str(tmp_path), "-c", str(other)])
    assert with_c.values["root_path"] == "" and with_c.values["workers"] == 3
    # A pyproject without [tool.subcorn] is not a config file.
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert str(resolve(["--app-dir", str(tmp_path)]).sources["root_path"]) == "default"
    # An unknown key in it is refused like any other.
    (tmp_path / "pyproject.toml").write_text("[tool.subcorn]\nworkerz = 2\n")
    with pytest.raises(ConfigError, match=r"pyproject.toml: unknown setting 'workerz' \(did you"):
        resolve(["--app-dir", str(tmp_path)])


def test_print_config_shows_every_value_and_its_source(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.subcorn]\napp = "hello:app"\n'
                                             'root_path = "/from-file"\nport = 8111\n')
    port = free_port()
    started = time.monotonic()
    done = run_cli(["--print-config", "--port", str(port)], cwd=tmp_path,
                   env={"SUBCORN_WORKERS": "3"})
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 10 and "Started" not in done.stderr, "no server runs"
    pyproject = tmp_path / "pyproject.toml"
    lines = {line.split("=")[0].strip(): line for line in done.stdout.splitlines()
             if not line.startswith("#")}
    assert lines["app"].split("#")[-1].strip() == f"file {pyproject}"
    assert lines["root_path"].split("#")[-1].strip() == f"file {pyproject}"
    assert lines["port"].split("#")[-1].strip() == "cli"
    assert lines["workers"].split("#")[-1].strip() == "env SUBCORN_WORKERS"
    assert lines["timeout_keep_alive"].split("#")[-1].strip() == "default"
    # The output is itself a config file with the same values.
    values = tomllib.loads(done.stdout)
    assert values["port"] == port and values["workers"] == 3
    assert values["timeout_keep_alive"] == 5.0 and values["root_path"] == "/from-file"
    assert set(values) | {line.split()[1] for line in done.stdout.splitlines()
                          if line.endswith("# default") and " is not set" in line} \
        == {s.name for s in _sources.public_settings()}


# ---------------------------------------------------------------- a real server, file only

@pytest.mark.parametrize("mode", ["interpreters", "processes"])
def test_worker_serves_the_files_settings(tmp_path, mode):
    """Settings given only in the file reach every worker, in both modes:
    the workers count, root_path in the scope, and the keep-alive timeout."""
    port = free_port()
    path = tmp_path / "subcorn.toml"
    path.write_text(textwrap.dedent(f"""\
        app = "{PROBE}"
        app-dir = "{APPS}"
        host = "127.0.0.1"
        port = {port}
        workers = 2
        mode = "{mode}"
        root_path = "/mounted"
        timeout_keep_alive = 1
    """))
    s = Server(["-c", str(path)], tmp_path / "logs", port=port).start()
    try:
        s.wait_ready()
        workers, deadline = set(), time.monotonic() + 15
        while len(workers) < 2 and time.monotonic() < deadline:
            answer = s.get_json("/")
            assert answer["root_path"] == "/mounted"
            workers.add((answer["pid"], answer["interpreter_id"]))
        assert len(workers) == 2, s.describe()
        if mode == "processes":
            assert len({pid for pid, _ in workers}) == 2
        with RawConn(port) as c:
            c.request("GET", "/")
            assert c.read_response().status == 200
            closed_after = c.closed_within(4)
        assert closed_after is not None and closed_after < 3, "timeout_keep_alive = 1 (not 5)"
    finally:
        assert s.stop() == 0, s.describe()


# ---------------------------------------------------------------- --env-file

def test_env_file_parsing():
    text = textwrap.dedent("""\
        # a comment, then a blank line

        PLAIN=value  # a comment after it
        export EXPORTED=yes
        SINGLE='no $expansion \\n here'
        DOUBLE="line one\\nline two, a \\"quote\\""
        EMPTY=
        SPACED = around
    """)
    assert _env_file.parse(text) == {
        "PLAIN": "value", "EXPORTED": "yes", "SINGLE": "no $expansion \\n here",
        "DOUBLE": 'line one\nline two, a "quote"', "EMPTY": "", "SPACED": "around"}
    for bad, why in [("NO_EQUALS", "line 1: expected KEY=VALUE"),
                     ("1ABC=x", "line 1: expected KEY=VALUE"),
                     ("OPEN='never closed", "line 1: the ' is not closed"),
                     ('A="x" trailing', "unexpected 'trailing'")]:
        with pytest.raises(ValueError, match=why):
            _env_file.parse(bad)


@pytest.mark.parametrize("mode", ["interpreters", "processes"])
def test_env_file_is_set_before_the_app_in_every_worker(server, tmp_path, mode):
    env_file = tmp_path / "app.env"
    env_file.write_text('export GREETING="hello there"  # from the file\nKEPT=from-file\n')
    s = server(PROBE, "--env-file", str(env_file), "--mode", mode, workers=2,
               env={"KEPT": "from-the-environment"})
    seen, deadline = set(), time.monotonic() + 15
    while len(seen) < 2 and time.monotonic() < deadline:
        answer = s.get_json("/?env=GREETING,KEPT")
        assert answer["env"] == {"GREETING": "hello there", "KEPT": "from-the-environment"}
        seen.add((answer["pid"], answer["interpreter_id"]))
    assert len(seen) == 2, s.describe()


def test_bad_env_file_is_one_line(tmp_path):
    env_file = tmp_path / "app.env"
    env_file.write_text("GOOD=1\nthis is not a variable\n")
    line = one_error(run_cli(["hello:app", "--env-file", str(env_file)]))
    assert f"{env_file} line 2: expected KEY=VALUE" in line


# ---------------------------------------------------------------- subcorn.run

def run_script(tmp_path, code: str, port: int) -> tuple[subprocess.Popen, dict, str]:
    """Runs a script that calls subcorn.run; returns it once it answers
    (with its answer), after SIGTERM and its exit, with its output."""
    script = tmp_path / "serve_it.py"
    script.write_text(textwrap.dedent(code))
    log = tmp_path / "serve_it.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, str(script)], stdout=out, stderr=out,
                                env=server_env(), cwd=tmp_path)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with RawConn(port) as c:
                    c.request("GET", "/?env=SCRIPT_ENV", headers=[("Connection", "close")])
                    answer = json.loads(c.read_response().body)
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(20)
    assert code == 0, log.read_text()
    return proc, answer, log.read_text()


def test_run_with_an_import_string(tmp_path):
    port = free_port()
    _, answer, output = run_script(tmp_path, f"""\
        import subcorn

        if __name__ == "__main__":
            subcorn.run("{PROBE}", app_dir="{APPS}", port={port}, workers=2,
                        root_path="/run", mode="interpreters")
    """, port)
    assert answer["root_path"] == "/run"
    assert "with 2 workers in interpreters mode" in output, output


def test_run_with_an_app_object_serves_its_import_string(tmp_path):
    port = free_port()
    _, answer, output = run_script(tmp_path, f"""\
        import json
        import subcorn

        async def app(scope, receive, send):
            if scope["type"] != "http":
                return
            body = json.dumps({{"root_path": scope["root_path"], "from": "the script"}}).encode()
            await send({{"type": "http.response.start", "status": 200, "headers": []}})
            await send({{"type": "http.response.body", "body": body}})

        if __name__ == "__main__":
            subcorn.run(app, port={port}, workers=1, lifespan="off")
    """, port)
    assert answer == {"root_path": "", "from": "the script"}
    assert "serving the app object as 'serve_it:app'" in output, output


def test_run_with_an_object_no_name_is_bound_to_is_a_clear_error():
    async def made_here(scope, receive, send):
        pass

    with pytest.raises(ConfigError, match="an object cannot be handed to either") as raised:
        import_string_of(made_here, __name__)
    assert 'subcorn.run("main:app")' in str(raised.value)
    assert "mode=\"processes\"" in str(raised.value)


def test_run_refuses_an_unknown_keyword():
    import subcorn

    with pytest.raises(TypeError, match="'timeout_keepalive' .did you mean 'timeout_keep_alive'"):
        subcorn.run("hello:app", timeout_keepalive=3)
    with pytest.raises(ConfigError, match=r"subcorn\.run\(workers=\.\.\.\): expected an integer"):
        subcorn.run("hello:app", workers="4")


def test_config_is_public_and_checks_types():
    import subcorn

    config = subcorn.Config(app="hello:app", workers=2, mode="processes", timeout_keep_alive=3)
    assert config.workers == 2 and str(config.mode) == "processes"
    assert config.timeout_keep_alive == 3.0 and isinstance(config.timeout_keep_alive, float)
    with pytest.raises(subcorn.ConfigError, match="--port: expected an integer, not '80'"):
        subcorn.Config(app="hello:app", port="80")
    with pytest.raises(TypeError, match="give the settings in the Config"):
        subcorn.run(config, workers=3)
    # What the supervisor hands a worker comes back the same.
    assert subcorn.Config.from_json(config.to_json()) == config


def test_a_list_setting_is_a_repeatable_flag_an_array_and_a_separated_variable():
    """No setting is a list yet; the ones coming (--bind, --static, --header)
    get this from their declaration alone."""
    import argparse
    import dataclasses

    from subcorn.settings import setting, settings_of

    @dataclasses.dataclass
    class Declared:
        static: list[str] = setting(default_factory=list, help="serve these",
                                    env_separator=";")

    (s,) = settings_of(Declared)
    assert (s.kind, s.option, s.env, s.file_keys) == (list, "--static", ("SUBCORN_STATIC",),
                                                      ("static",))
    parser = argparse.ArgumentParser()
    cli._add(parser, s)
    assert vars(parser.parse_args([])) == {}
    assert parser.parse_args(["--static", "/a:x", "--static", "/b:y"]).static == ["/a:x", "/b:y"]
    assert s.from_text("/a:x; /b:y") == ["/a:x", "/b:y"]
    assert s.from_data(["/a:x"]) == ["/a:x"] and s.from_data("/a:x") == ["/a:x"]
    with pytest.raises(ValueError, match="expected a list of strings"):
        s.from_data([1, 2])
