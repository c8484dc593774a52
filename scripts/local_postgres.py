"""A throwaway PostgreSQL cluster on 127.0.0.1 for tests and the dev stack.

Why: the router needs a real PostgreSQL, tests need one per session that they can restart under load,
and the machines have no Docker. Standard library only, because pytest fixtures import this file
through ``sys.path.insert(0, "scripts")``. PostgreSQL refuses to run as root, so as root the server
binaries run as the ``postgres`` system user (or a created unprivileged user) through ``setpriv``.

CLI: ``python scripts/local_postgres.py start|stop|status [--dir DIR] [--port N]``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import random
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

HOST = "127.0.0.1"
DEFAULT_DATABASE = "alertrouter"
SUPERUSER = "postgres"
FALLBACK_OS_USER = "localpg"
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO_ROOT / ".run" / "postgres"
INSTALL_HINT = "install it with: apt-get install -y postgresql"
SERVER_BINARIES = ("initdb", "pg_ctl", "postgres", "psql")
# Durability is pointless for a throwaway cluster; turning it off makes migrations and tests much faster.
TEST_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "log_min_messages": "warning",
}


class PostgresError(RuntimeError):
    """Raised with a message that says what to do; the CLI prints it and exits non-zero."""


def find_pg_bin() -> Path:
    """The dir holding initdb/pg_ctl/postgres: from PATH (symlinks resolved), else the newest Debian one."""
    candidates: list[Path] = []
    for name in ("initdb", "pg_ctl"):
        found = shutil.which(name)
        if found:
            candidates.append(Path(found).resolve().parent)
    versions = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name.isdigit()),
        key=lambda p: int(p.parent.name),
        reverse=True,
    )
    for bin_dir in [*candidates, *versions]:
        if all((bin_dir / name).is_file() for name in SERVER_BINARIES):
            return bin_dir
    raise PostgresError(f"PostgreSQL server binaries (initdb, pg_ctl) not found; {INSTALL_HINT}")


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def free_port(low: int = 15000, high: int = 16000) -> int:
    """A free port below Linux's ephemeral range (32768+), so client sockets cannot take it meanwhile."""
    candidates = list(range(low, high))
    random.shuffle(candidates)
    for port in candidates:
        if port_is_free(port):
            return port
    raise PostgresError(f"no free port between {low} and {high}")


def server_user() -> pwd.struct_passwd | None:
    """None when not root; else the unprivileged OS user that runs initdb/postgres (created if needed)."""
    if os.geteuid() != 0:
        return None
    for name in (SUPERUSER, FALLBACK_OS_USER):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", FALLBACK_OS_USER],
        check=True,
    )
    return pwd.getpwnam(FALLBACK_OS_USER)


class LocalPostgres:
    """One PostgreSQL cluster in data_dir: pgdata/ (the cluster), run/ (unix socket), postgres.log."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.bin_dir = find_pg_bin()
        self.user = server_user()
        self.port = port if port is not None else self._configured_port() or free_port()

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def socket_dir(self) -> Path:
        return self.data_dir / "run"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "postgres.log"

    def url(self, database: str = DEFAULT_DATABASE) -> str:
        return f"postgresql+asyncpg://{SUPERUSER}@{HOST}:{self.port}/{database}"

    def dsn(self, database: str = DEFAULT_DATABASE) -> str:
        """The same address for asyncpg.connect / psql (no SQLAlchemy driver prefix)."""
        return f"postgresql://{SUPERUSER}@{HOST}:{self.port}/{database}"

    def start(self, timeout: float = 60) -> None:
        """initdb on first use, start the server, create the 'alertrouter' database; no-op if running."""
        if self.is_running():
            return
        self._prepare_dirs()
        if not (self.pgdata / "PG_VERSION").is_file():
            self._initdb()
        self._write_settings()
        if not port_is_free(self.port):
            raise PostgresError(f"port {self.port} on {HOST} is already in use; choose another --port")
        self._pg_ctl("start", "-w", "-t", str(int(timeout)), "-l", str(self.log_file))
        self.create_database(DEFAULT_DATABASE)

    def stop(self) -> None:
        """Fast shutdown (rolls back open transactions, disconnects clients); idempotent."""
        if self.is_running():
            self._pg_ctl("stop", "-m", "fast", "-w", "-t", "60")

    def restart(self, timeout: float = 60) -> None:
        """Fast restart on the same port and data, for fault tests."""
        self._pg_ctl("restart", "-m", "fast", "-w", "-t", str(int(timeout)), "-l", str(self.log_file))

    def is_running(self) -> bool:
        if not (self.pgdata / "PG_VERSION").is_file():
            return False
        return self._run([str(self.bin_dir / "pg_ctl"), "status", "-D", str(self.pgdata)]).returncode == 0

    def create_database(self, name: str) -> None:
        """Create the database unless it exists (idempotent, so dev-stack restarts keep their data)."""
        exists = self.psql("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{_literal(name)}'")
        if exists.strip() != "1":
            self.psql("postgres", f'CREATE DATABASE "{name.replace(chr(34), chr(34) * 2)}"')

    def psql(self, database: str, sql: str) -> str:
        """Run one statement through psql over TCP; returns unaligned tuples-only output."""
        command = [str(self.bin_dir / "psql"), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1"]
        command += ["-h", HOST, "-p", str(self.port), "-U", SUPERUSER, "-d", database, "-c", sql]
        result = subprocess.run(command, capture_output=True, text=True, check=False, env=_client_env())
        if result.returncode != 0:
            raise PostgresError(f"psql failed on {database}: {result.stderr.strip()}")
        return result.stdout

    # -- internals --

    def _configured_port(self) -> int | None:
        """The port an earlier start wrote, so `stop`/`status` and restarts need no --port."""
        conf = self.pgdata / "postgresql.auto.conf"
        with contextlib.suppress(OSError):
            match = re.search(r"^port = '?(\d+)'?", conf.read_text(), re.MULTILINE)
            if match:
                return int(match.group(1))
        return None

    def _prepare_dirs(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        if len(str(self.socket_dir / f".s.PGSQL.{self.port}")) > 100:
            raise PostgresError(f"{self.socket_dir} is too long for a unix socket path; use a shorter --dir")
        if self.user is not None:
            for path in (self.data_dir, self.socket_dir, *self.data_dir.rglob("*")):
                os.chown(path, self.user.pw_uid, self.user.pw_gid, follow_symlinks=False)

    def _initdb(self) -> None:
        command = [str(self.bin_dir / "initdb"), "-D", str(self.pgdata), "-U", SUPERUSER]
        command += ["--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"]
        result = self._run(command)
        if result.returncode != 0:
            raise PostgresError(f"initdb failed:\n{result.stdout}{result.stderr}")

    def _write_settings(self) -> None:
        """postgresql.auto.conf wins over postgresql.conf and survives restarts."""
        settings = {
            "listen_addresses": HOST,
            "port": str(self.port),
            "unix_socket_directories": str(self.socket_dir),
            **TEST_SETTINGS,
        }
        text = "".join(f"{key} = '{_literal(value)}'\n" for key, value in settings.items())
        conf = self.pgdata / "postgresql.auto.conf"
        conf.write_text(text)
        if self.user is not None:
            os.chown(conf, self.user.pw_uid, self.user.pw_gid)

    def _pg_ctl(self, action: str, *options: str) -> None:
        result = self._run([str(self.bin_dir / "pg_ctl"), action, "-D", str(self.pgdata), *options])
        if result.returncode != 0:
            log = self.log_file.read_text()[-3000:] if self.log_file.exists() else ""
            raise PostgresError(f"pg_ctl {action} failed:\n{result.stdout}{result.stderr}\n{log}")

    def _run(self, command: list[str]) -> subprocess.CompletedProcess[str]:
        """Run a server binary; as root, as the unprivileged user (see _as_server_user)."""
        if self.user is None:
            return subprocess.run(command, capture_output=True, text=True, check=False, cwd=self.data_dir)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.data_dir), "LC_ALL": "C"}
        return subprocess.run(
            _as_server_user(self.user, command),
            capture_output=True,
            text=True,
            check=False,
            cwd=self.data_dir,
            env=env,
        )


def _as_server_user(user: pwd.struct_passwd, command: list[str]) -> list[str]:
    """Drop root but keep CAP_DAC_READ_SEARCH, so the server can reach a data dir below root-only
    folders such as pytest's /tmp/pytest-of-root (0700, and re-chmodded by every new pytest session,
    so granting o+x on it does not last). It grants reading and searching only, not writing."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise PostgresError("`setpriv` is missing; install it with: apt-get install -y util-linux")
    caps = ["--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]
    ids = [f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups"]
    return [setpriv, *ids, *caps, "--", *command]


def _literal(value: str) -> str:
    return value.replace("'", "''")


def _client_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGCONNECT_TIMEOUT"] = "10"
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("command", choices=["start", "stop", "status"])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DATA_DIR, help="default: .run/postgres")
    parser.add_argument("--port", type=int, default=None, help="default: the last one used, else a free one")
    args = parser.parse_args(argv)
    try:
        cluster = LocalPostgres(args.dir, args.port)
        if args.command == "start":
            cluster.start()
            print(cluster.url())
        elif args.command == "stop":
            cluster.stop()
        else:
            print(f"{'running' if cluster.is_running() else 'stopped'} {cluster.url()}")
            return 0 if cluster.is_running() else 3
    except PostgresError as error:
        print(f"local_postgres: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
