"""The scenarios: which app, which servers, how many workers, connections and cores."""

import json
from dataclasses import dataclass

from bench import servers
from bench.apps import items
from bench.load_ws import WsLoad

Target = servers.Target
Wire = servers.Wire


def exact_body(expected: bytes) -> servers.BodyCheck:
    def check(body: bytes) -> str | None:
        return None if body == expected else f"answered {body[:40]!r}, expected {expected!r}"

    return check


def json_body(expected: object) -> servers.BodyCheck:
    # Parsed, not byte for byte: Django and Flask format JSON differently.
    def check(body: bytes) -> str | None:
        try:
            if json.loads(body) == expected:
                return None
        except ValueError:
            pass
        return f"answered {body[:60]!r}, not the expected JSON"

    return check


SUBCORN = Target("subcorn")
ASGI_SERVERS = tuple(Target(name) for name in servers.ALL_NAMES)
# nginx runs no Python: no place for a test of the app's own work.
PYTHON_ASGI_SERVERS = tuple(t for t in ASGI_SERVERS if t.server not in servers.NATIVE)
SUBCORN_WSGI = Target("subcorn", "wsgi")
SUBCORN_ASGI = Target("subcorn", "asgi")
GUNICORN_SYNC = Target("gunicorn", "wsgi", "sync")
GUNICORN_GTHREAD = Target("gunicorn", "wsgi", "gthread")
GRANIAN_WSGI = Target("granian", "wsgi")
# uvicorn serves Django's ASGI handler, granian its WSGI one.
DJANGO_TARGETS = (SUBCORN_WSGI, SUBCORN_ASGI, GUNICORN_SYNC, GUNICORN_GTHREAD,
                  Target("uvicorn", "asgi"), GRANIAN_WSGI)  # fmt: skip
# Flask is WSGI only: no subcorn ASGI row, and uvicorn through its own WSGI adapter.
FLASK_TARGETS = (SUBCORN_WSGI, GUNICORN_SYNC, GUNICORN_GTHREAD, Target("uvicorn", "wsgi"),
                 GRANIAN_WSGI)  # fmt: skip


# uvicorn's WebSocket implementations (--ws), the fastest first: its row in
# the ws-* tables. `--uvicorn-ws all` gives one row each, to measure them again.
# Measured in all three ws-* scenarios (docs/benchmarks.md has the numbers):
# websockets-sansio is the fastest of the three in every one.
UVICORN_WS = ("websockets-sansio", "websockets", "wsproto")
WS_ON = servers.WS_ON
# Every server with its own WebSocket, each on its fastest setting (and
# subcorn-base, for a before-and-after run). gunicorn twice: with uvicorn's
# worker (the HTTP tables' row) and with its own ASGI worker, which has a
# WebSocket of its own since gunicorn 24.
WS_TARGETS = (
    Target("subcorn", ws=WS_ON),
    Target(servers.BASE_NAME, ws=WS_ON),  # only when asked for (--servers), as in hello
    Target("granian", ws=WS_ON),
    Target("uvicorn", ws=UVICORN_WS[0]),
    Target("hypercorn", ws=WS_ON),
    Target("gunicorn", ws=WS_ON),
    Target("gunicorn", worker="asgi", ws=WS_ON),
)


@dataclass(frozen=True)
class Scenario:
    name: str
    apps: dict[str, str]  # interface ("asgi" / "wsgi") -> the app's import string
    targets: tuple[Target, ...]  # the rows, in order
    workers: tuple[int, ...]
    connections: int
    server_cpus: str  # taskset -c lists
    wrk_cpus: str
    check_body: servers.BodyCheck | None  # checked once per start, before any load
    about: str
    path: str = "/"
    baseline: Target = SUBCORN  # the ratio columns divide by its row
    # A module run once (`python -m`) before the scenario's first server starts.
    setup: str | None = None
    # Whether to state the targets (against gunicorn sync and granian WSGI).
    goals: bool = False
    packages: tuple[str, ...] = ()  # the app's frameworks, for the versions line
    # WebSocket scenarios: what wsload sends (instead of wrk's GET requests);
    # a row counts as up only once wsload's messages come back through it.
    ws: WsLoad | None = None
    unit: str = "req"  # what one unit of work is, for the columns: req or msg
    # The protocol every row speaks unless the row names its own; HTTP/2 is
    # loaded by h2load (`streams` concurrent streams per connection), the
    # others by wrk. TLS scenarios get a certificate made at run time (bench/tls.py).
    wire: servers.Wire = Wire.HTTP1
    streams: int = 1
    # The target for TLS and HTTP/2: subcorn's CPU per request at most
    # GOAL_CPU_VS_PEER (run.py) of this row's, stated under the table.
    cpu_goal_peer: Target | None = None
    # wrk sends `Connection: close`: one connection per request.
    close: bool = False

    def app(self, target: Target) -> str:
        return self.apps[target.interface or "asgi"]


def framework_scenario(
    name: str,
    apps: dict[str, str],
    targets: tuple[Target, ...],
    setup: str,
    packages: tuple[str, ...],
    about: str,
) -> Scenario:
    """A framework app on 2 workers: Django or Flask over SQLite."""
    return Scenario(
        name=name,
        apps=apps,
        targets=targets,
        workers=(2,),
        # 8 connections per worker: every server always has requests queued
        # (2 per gthread thread), without measuring a deep queue's latency.
        connections=16,
        # 2 workers need both cores; wrk shares them (a fraction of one core at
        # these rates), as in the cpu scenario.
        server_cpus="0,1",
        wrk_cpus="0,1",
        check_body=json_body(items.EXPECTED),
        path="/items",
        baseline=SUBCORN_WSGI,
        setup=setup,
        goals=True,
        packages=packages,
        about=(
            "2 workers for every server, 16 keep-alive connections, `wrk -t1 -c16`; the "
            "server may use both cores (`taskset -c 0,1`) and wrk shares them. `GET /items` "
            "answers the 20 rows of a SQLite table as JSON (about 2.7 KB), read by one ORM "
            f"query over a persistent connection. {about}"
        ),
    )


def ws_scenario(name: str, app: str, load: WsLoad, about: str) -> Scenario:
    """A WebSocket scenario: 1 worker, 64 connections, wsload (bench/wsload) on core 1."""
    return Scenario(
        name=name,
        apps={"asgi": app},
        targets=WS_TARGETS,
        workers=(1,),
        connections=64,
        # As in hello: the server has core 0 to itself, the load generator core 1.
        server_cpus="0",
        wrk_cpus="1",
        check_body=exact_body(b"hello"),  # GET / before any upgrade: the hello app
        setup="bench.load_ws",  # builds wsload (once; later a no-op)
        ws=load,
        unit="msg",
        baseline=WS_TARGETS[0],  # the ratio columns divide by subcorn's WebSocket row
        # The WebSocket libraries under uvicorn, gunicorn's uvicorn worker and hypercorn.
        packages=("websockets", "wsproto"),
        about=(
            "1 worker, 64 WebSocket connections from wsload (bench/wsload, one thread), the "
            "server pinned to core 0 and wsload to core 1. Each connection sends a message and "
            f"waits for it to come back before it sends the next (a closed loop). {about} "
            "`CPU/msg` is the server's CPU over the messages counted; `wsload CPU/msg` is the "
            "load generator's own, over the same messages."
        ),
    )


GRANIAN = Target("granian")
# HTTP/2: the servers that speak it, and nginx (`http2 on`) as the ceiling.
H2_TARGETS = (SUBCORN, Target(servers.BASE_NAME), GRANIAN, Target("hypercorn"), Target("nginx"))
# The regression row of the https table: subcorn over cleartext HTTP/1.1 (the
# hello table's row) in the same run, so TLS's cost and any change to the
# cleartext path show side by side; and subcorn-base's, when asked for.
SUBCORN_CLEARTEXT = Target("subcorn", wire=Wire.HTTP1)
BASE_CLEARTEXT = Target(servers.BASE_NAME, wire=Wire.HTTP1)
HTTPS_TARGETS = (SUBCORN, SUBCORN_CLEARTEXT, BASE_CLEARTEXT, GRANIAN, Target("uvicorn"),
                 Target("nginx"))  # fmt: skip


def hello_scenario(
    name: str, targets: tuple[Target, ...], about: str, wire: servers.Wire = Wire.HTTP1,
    streams: int = 1, cpu_goal_peer: Target | None = None,
) -> Scenario:  # fmt: skip
    """The hello app on 1 worker and 64 connections: the server's own cost per request."""
    return Scenario(
        name=name,
        apps={"asgi": "bench.apps.hello:app"},
        targets=targets,
        workers=(1,),
        connections=64,
        # The server gets core 0 to itself and the load generator core 1, so the
        # server's throughput is not limited by sharing a core with it.
        server_cpus="0",
        wrk_cpus="1",
        check_body=exact_body(b"hello"),
        about=about,
        wire=wire,
        streams=streams,
        cpu_goal_peer=cpu_goal_peer,
    )


def h2_scenario(name: str, wire: servers.Wire, about: str) -> Scenario:
    """The hello app over HTTP/2: h2load with 64 connections x 10 streams."""
    return hello_scenario(
        name,
        H2_TARGETS,
        wire=wire,
        streams=10,
        cpu_goal_peer=GRANIAN,
        about=(
            "1 worker, 64 connections with 10 concurrent streams each (`h2load -t1 -c64 "
            f"-m10 -D SECONDS`), {about}; the server pinned to core 0 and h2load to core 1 "
            "(`taskset -c`). The hello app (bench/apps/hello.py), a 5-byte body. nginx "
            "(`http2 on`, `return 200`) is the ceiling. A server that does not answer "
            "`GET /` over HTTP/2 with `hello` before the run is failed in its row."
        ),
    )


# Connection-per-request: subcorn in both modes (processes mode's connections
# go through the supervisor's acceptor) against gunicorn, whose workers each
# accept on the shared socket.
SUBCORN_PROCESSES = Target("subcorn", mode="processes")
CLOSE_TARGETS = (
    SUBCORN_PROCESSES,
    Target(servers.BASE_NAME, mode="processes"),  # only when asked for (--servers)
    Target("subcorn", mode="interpreters"),
    Target("subcorn", "wsgi", mode="processes"),
    GUNICORN_SYNC,
    Target("gunicorn"),  # uvicorn's worker
    Target("uvicorn"),
)

SCENARIOS = {
    "hello": hello_scenario(
        "hello",
        ASGI_SERVERS,
        about=(
            "1 worker, 64 keep-alive connections, `wrk -t1 -c64`; the server pinned to "
            "core 0 and wrk to core 1 (`taskset -c`). The app (bench/apps/hello.py) "
            "returns a 5-byte body, so this measures the server's own cost per request."
        ),
    ),
    "close": Scenario(
        name="close",
        apps={"asgi": "bench.apps.hello:app", "wsgi": "bench.apps.hello:wsgi_app"},
        targets=CLOSE_TARGETS,
        workers=(2,),
        connections=16,
        # Two workers (and subcorn's supervisor) share both cores with wrk: the
        # CPU per request of all the server's processes is the measure.
        server_cpus="0,1",
        wrk_cpus="0,1",
        check_body=exact_body(b"hello"),
        close=True,
        baseline=SUBCORN_PROCESSES,
        about=(
            "2 workers, a new connection for every request: `wrk -t1 -c16 -H 'Connection: "
            "close'`; the server and wrk share both cores (`taskset -c 0,1`). The hello app "
            "(bench/apps/hello.py; WSGI rows its `wsgi_app`). `CPU/req` counts every process "
            "of the server: subcorn's supervisor (which accepts and hands each connection "
            "over in processes mode) and its workers, gunicorn's arbiter and workers."
        ),
    ),
    "cpu": Scenario(
        name="cpu",
        apps={"asgi": "bench.apps.cpu:app"},
        targets=PYTHON_ASGI_SERVERS,
        workers=(1, 2),
        connections=4,
        # Two workers need two cores; wrk shares them, which costs little at a few
        # hundred requests per second.
        server_cpus="0,1",
        wrk_cpus="0,1",
        check_body=None,
        about=(
            "1 worker and then 2 workers, 4 keep-alive connections, `wrk -t1 -c4`; the "
            "server may use both cores (`taskset -c 0,1`) and wrk shares them. The app "
            "(bench/apps/cpu.py) does about 5 ms of pure-Python work per request, so one "
            "worker tops out near 200 req/s; `2w ÷ 1w` shows how well 2 workers scale "
            "(2.00x is perfect). nginx does not run Python and is left out."
        ),
    ),
    "django": framework_scenario(
        "django",
        apps={
            "wsgi": "bench.apps.django_bench.wsgi:application",
            "asgi": "bench.apps.django_bench.asgi:application",
        },
        targets=DJANGO_TARGETS,
        setup="bench.apps.django_bench.setup_db",
        packages=("django",),
        about=(
            "Django 5.2 (bench/apps/django_bench: DEBUG off, CommonMiddleware only, "
            "`CONN_MAX_AGE=None`), a plain sync view returning `JsonResponse`; the ASGI rows "
            "serve Django's ASGI handler, which runs that view in a thread."
        ),
    ),
    "flask": framework_scenario(
        "flask",
        apps={"wsgi": "bench.apps.flask_bench:app"},
        targets=FLASK_TARGETS,
        setup="bench.apps.flask_bench",
        packages=("flask", "sqlalchemy"),
        about=(
            "Flask 3.1 + SQLAlchemy 2.0 (bench/apps/flask_bench.py: a `QueuePool` engine, a "
            "session per request). Flask is WSGI only: there is no subcorn ASGI row, and "
            "uvicorn serves it through its own WSGI adapter (`--interface wsgi`, deprecated "
            "in uvicorn 0.53 but still there)."
        ),
    ),
    "ws-echo": ws_scenario(
        "ws-echo",
        "bench.apps.ws:echo",
        WsLoad("echo", "binary", 1024, deflate=False),
        "1 KiB binary messages (random bytes), no compression offered; the app "
        "(bench/apps/ws.py `echo`) sends each one back; each echo is checked byte for byte.",
    ),
    "ws-echo-text": ws_scenario(
        "ws-echo-text",
        "bench.apps.ws:echo",
        WsLoad("echo", "text", 16384, deflate=True),
        "16 KiB text messages (JSON records that deflate shrinks about 4.7:1), permessage-deflate "
        "offered as browsers offer it (`permessage-deflate; client_max_window_bits`); the "
        "app echoes them, so a server that accepts the offer inflates and deflates every "
        "message. The `deflate` column shows each server's answer to the offer.",
    ),
    "ws-broadcast": ws_scenario(
        "ws-broadcast",
        "bench.apps.ws:broadcast",
        WsLoad("broadcast", "binary", 1024, deflate=False),
        "1 KiB binary messages; the app (bench/apps/ws.py `broadcast`) sends each message it "
        "receives to every connection of its worker, the sender included, so one message in "
        "makes 64 out. A connection sends its next message once its own came back. `msg/s` "
        "counts messages delivered (64 per message sent), each checked byte for byte and in "
        "order per sender; `CPU/msg` is per delivered message.",
    ),
    "h2": h2_scenario(
        "h2", Wire.H2C, "HTTP/2 over cleartext by prior knowledge (h2c, no Upgrade)"
    ),
    "h2-tls": h2_scenario(
        "h2-tls", Wire.H2,
        "HTTP/2 over TLS (ALPN offering only `h2`; the certificate is made at run time)",
    ),  # fmt: skip
    "https": hello_scenario(
        "https",
        HTTPS_TARGETS,
        wire=Wire.HTTPS1,
        cpu_goal_peer=GRANIAN,
        about=(
            "The hello scenario over TLS: HTTPS/1.1, 1 worker, 64 keep-alive connections, "
            "`wrk -t1 -c64` on an `https://` URL (wrk offers no ALPN and checks no "
            "certificate); the server pinned to core 0 and wrk to core 1. The certificate "
            "is made at run time. `subcorn (HTTP/1.1)` is subcorn over cleartext in the same "
            "run: the regression row, to compare with the hello table (and with "
            "`subcorn-base (HTTP/1.1)` when `--servers` names subcorn-base). The `TLS` column "
            "is what the harness's own check negotiated with each server before the run."
        ),
    ),
}
