"""A throwaway PostgreSQL server for the example tests.

initdb into a fresh directory under /tmp, listen on 127.0.0.1 only (a free
port; the unix socket stays in that directory), no fsync (the data dies with
the test run). PostgreSQL refuses to run as root, so the server runs as the
`postgres` system user (runuser) and owns its directory.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg
from psycopg import sql

RUN_USER = "postgres"


def pg_bin() -> Path:
    """The newest installed PostgreSQL's binaries (Debian: /usr/lib/postgresql/N/bin)."""
    if found := os.environ.get("PG_BIN"):
        return Path(found)
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(Path(d).parent.name))
    if not dirs:
        raise RuntimeError("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin); set PG_BIN")
    return Path(dirs[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgreSQL:
    def __init__(self) -> None:
        self.bin = pg_bin()
        self.base = Path(tempfile.mkdtemp(prefix="subcorn-examples-pg-"))
        self.data = self.base / "data"
        self.log = self.base / "server.log"
        self.port = free_port()

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{RUN_USER}@127.0.0.1:{self.port}/{dbname}"

    def start(self) -> "PostgreSQL":
        user = pwd.getpwnam(RUN_USER)
        os.chown(self.base, user.pw_uid, user.pw_gid)
        self._run("initdb", "-D", self.data, "-U", RUN_USER, "--auth=trust", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync", "--no-instructions")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(self._settings())
        try:
            self._run("pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "30", "start")
        except subprocess.CalledProcessError as error:
            raise RuntimeError(f"PostgreSQL did not start: {error.stderr.decode(errors='replace')}\n"
                               f"{self.server_log()}") from None
        return self

    def _settings(self) -> str:
        # A tmpfs /dev/shm (the usual case, and under ./dev run) carries POSIX
        # shared memory; without one, PostgreSQL falls back to mmap'ed files.
        shm = os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK)
        return "\n".join([
            "",
            "listen_addresses = '127.0.0.1'",
            f"port = {self.port}",
            f"unix_socket_directories = '{self.base}'",
            "fsync = off",
            "synchronous_commit = off",
            "full_page_writes = off",
            "max_connections = 200",  # 2 workers x (pool max + overflow) x examples, with room
            f"dynamic_shared_memory_type = {'posix' if shm else 'mmap'}",
            "",
        ])

    def createdb(self, name: str) -> str:
        """Creates database `name` (dropping an older one) and returns its URL."""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "-t", "30", "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def server_log(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return "(no server log)"

    def _run(self, tool: str, *args: object) -> None:
        subprocess.run(["runuser", "-u", RUN_USER, "--", str(self.bin / tool), *map(str, args)],
                       cwd=self.base, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
