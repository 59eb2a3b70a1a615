"""A throw-away PostgreSQL cluster from Debian's binaries, for the tests and for developers.

The README promises any DATABASE_URL, PostgreSQL included; this makes a real server to hold that promise to:
`initdb` into a fresh temp dir, trust auth, listening on 127.0.0.1 only (and a unix socket inside the temp
dir), on a free port; stopped and removed at the end. Postgres refuses to run as root, so as root the
cluster runs as the `postgres` user (Debian's package creates it).

    python tests/pg_cluster.py                       # start, print the URLs, wait for Ctrl-C
    python tests/pg_cluster.py -- python -m pytest -m db   # run a command with the URLs in its env

The command gets DATABASE_URL (a database `triage` made for it) and TEST_POSTGRES_URL (the server's
`postgres` database: the tests' fixture then makes one fresh database per test there instead of starting
its own cluster).
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "postgres"
CLUSTER_OS_USER = "postgres"  # who runs the server when we are root
DRIVER = "postgresql+psycopg"
# Not the machine's zone on purpose: timestamps must come back as UTC whatever the server's TimeZone is.
SERVER_TIMEZONE = "Europe/Moscow"
START_ATTEMPTS = 3


def find_bindir() -> Path | None:
    """The directory holding initdb and pg_ctl: $PG_BINDIR when set (only it), else `pg_config --bindir`, the
    newest /usr/lib/postgresql/<major>/bin, or wherever `initdb` is on PATH; None when none has them."""

    def usable(d: str | Path | None) -> Path | None:
        if d and (Path(d) / "initdb").is_file() and (Path(d) / "pg_ctl").is_file():
            return Path(d)
        return None

    if "PG_BINDIR" in os.environ:  # an explicit choice: no fallback to another installation
        return usable(os.environ["PG_BINDIR"])
    if pg_config := shutil.which("pg_config"):
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        if found := usable(out.strip()):
            return found

    def major(path: str) -> int:
        m = re.search(r"/postgresql/(\d+)/bin$", path)
        return int(m.group(1)) if m else -1

    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=major, reverse=True):
        if found := usable(candidate):
            return found
    if initdb := shutil.which("initdb"):
        return usable(Path(initdb).resolve().parent)
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class PgServer:
    """A running server reachable over TCP as a trusted superuser."""

    host: str
    port: int
    user: str = SUPERUSER

    def url(self, database: str = "postgres") -> str:
        return f"{DRIVER}://{self.user}@{self.host}:{self.port}/{database}"

    def _admin(self, sql: str) -> None:
        from sqlalchemy import create_engine, text

        engine = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text(sql))
        finally:
            engine.dispose()

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; its SQLAlchemy URL."""
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise ValueError(f"not a plain database name: {name!r}")
        self._admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    @classmethod
    def from_url(cls, url: str) -> PgServer:
        """The server a URL such as postgresql+psycopg://postgres@127.0.0.1:5432/postgres names."""
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        return cls(host=parsed.host or "127.0.0.1", port=parsed.port or 5432, user=parsed.username or SUPERUSER)


def _as_cluster_user(cmd: list[str]) -> list[str]:
    """Postgres will not run as root: as root, run `cmd` as the postgres user."""
    if os.geteuid() != 0:
        return cmd
    if shutil.which("runuser"):
        return ["runuser", "-u", CLUSTER_OS_USER, "--", *cmd]
    return ["su", CLUSTER_OS_USER, "-s", "/bin/sh", "-c", " ".join(f"'{c}'" for c in cmd)]


def _temp_parent() -> str | None:
    """Where the temp dir goes: the usual place, unless the cluster user (root's case) could not enter it."""
    parent = tempfile.gettempdir()
    if os.geteuid() == 0 and not os.stat(parent).st_mode & 0o001:
        return "/tmp"
    return None


def _run(cmd: list[str], what: str, timeout: float = 120) -> None:
    proc = subprocess.run(_as_cluster_user(cmd), capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed ({proc.returncode}): {(proc.stderr or proc.stdout)[-2000:]}")


@contextmanager
def pg_cluster(bindir: Path | None = None) -> Iterator[PgServer]:
    """Start a fresh cluster in a temp dir; yield the server; stop it and delete the dir afterwards."""
    bindir = bindir or find_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed (no initdb/pg_ctl; apt-get install postgresql)")
    base = Path(tempfile.mkdtemp(prefix="triage-pg-", dir=_temp_parent()))
    data, sock, log = base / "data", base / "sock", base / "postgres.log"
    sock.mkdir()
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam(CLUSTER_OS_USER)
        except KeyError:
            shutil.rmtree(base, ignore_errors=True)
            raise RuntimeError(f"running as root and there is no {CLUSTER_OS_USER!r} user to run the server") from None
        for path in (base, sock):
            os.chown(path, user.pw_uid, user.pw_gid)
    started = False
    try:
        _run(
            [str(bindir / "initdb"), "-D", str(data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--locale=C"]
            + ["--no-sync", "--no-instructions"],
            "initdb",
        )
        for attempt in range(START_ATTEMPTS):
            port = free_port()
            _write_settings(data / "postgresql.auto.conf", port, sock)
            try:
                _run([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "start"], "pg_ctl")
                started = True
                break
            except RuntimeError:
                # Another process may have taken the port between free_port() and the bind: try another.
                if attempt == START_ATTEMPTS - 1 or "could not bind" not in _tail(log):
                    raise RuntimeError(f"postgres did not start: {_tail(log)}") from None
        yield PgServer(host="127.0.0.1", port=port)
    finally:
        if started:
            try:
                _run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"], "pg_ctl stop", 60)
            except (RuntimeError, subprocess.SubprocessError):
                pass
        shutil.rmtree(base, ignore_errors=True)


def _write_settings(path: Path, port: int, sock: Path) -> None:
    """TCP on loopback only, the socket in the temp dir, and no durability (a throw-away cluster)."""
    settings = {
        "listen_addresses": "127.0.0.1",
        "port": str(port),
        "unix_socket_directories": str(sock),
        "timezone": SERVER_TIMEZONE,
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "max_connections": "100",
    }
    text = "".join(f"{k} = '{v}'\n" for k, v in settings.items())
    if os.geteuid() == 0:
        # Written through the cluster user so the file stays theirs.
        subprocess.run(_as_cluster_user(["tee", str(path)]), input=text, text=True, check=True, capture_output=True)
    else:
        path.write_text(text)


def _tail(log: Path) -> str:
    try:
        return log.read_text(errors="replace")[-2000:]
    except OSError:
        return "(no server log)"


def main(argv: list[str]) -> int:
    """Start a cluster and a `triage` database; run the command after `--` with DATABASE_URL and
    TEST_POSTGRES_URL set, or print them and wait for Ctrl-C."""
    command = argv[argv.index("--") + 1 :] if "--" in argv else []
    t0 = time.monotonic()
    with pg_cluster() as server:
        database_url = server.create_database("triage")
        print(f"PostgreSQL up in {time.monotonic() - t0:.1f} s", file=sys.stderr, flush=True)
        env = {**os.environ, "DATABASE_URL": database_url, "TEST_POSTGRES_URL": server.url()}
        print(f"DATABASE_URL={database_url}\nTEST_POSTGRES_URL={server.url()}", flush=True)
        if not command:
            print("Ctrl-C stops the cluster and deletes it.", file=sys.stderr, flush=True)
            try:
                signal.pause()
            except KeyboardInterrupt:
                pass
            return 0
        try:
            return subprocess.run(command, env=env).returncode
        except KeyboardInterrupt:
            return 130


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the cleanup on `kill` too
    sys.exit(main(sys.argv[1:]))
