"""Real servers for tests and benchmarks alike, started as ordinary processes on free
loopback ports: Mosquitto, PostgreSQL and VictoriaMetrics (Debian's packages)."""

from __future__ import annotations

import json
import os
import pwd
import random
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

_LOWEST_PORT = 20000
_next_port: list[int] = []


def _port_range() -> tuple[int, int]:
    """This process's share of the loopback ports below the kernel's ephemeral range.

    A port the kernel hands out for port 0 lies in the ephemeral range, where any outgoing
    connection (to PostgreSQL, to the broker) may take it as its local port between the pick
    and the server's bind, or while a server is restarted on it: CI saw `EADDRINUSE` so. Below
    that range only servers bind, and each xdist worker takes its own slice, so two workers
    never pick the same port."""
    try:
        ephemeral_low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    index = int(worker) if worker.isdigit() else 0
    size = max(1, (ephemeral_low - _LOWEST_PORT) // max(1, count))
    low = _LOWEST_PORT + size * (index % max(1, count))
    return low, low + size


def free_port() -> int:
    """A loopback port nothing listens on, not in the ephemeral range (see `_port_range`)."""
    low, high = _port_range()
    if high - low < 16:  # an unusual kernel setting: fall back to the kernel's choice
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])
    if not _next_port:  # a random start: the last run's ports may still be in TIME_WAIT
        _next_port.append(low + random.randrange(high - low))
    for _ in range(high - low):
        port = _next_port[0]
        _next_port[0] = low + (port + 1 - low) % (high - low)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise OSError(f"no free loopback port in {low}-{high}")


def remove_in_background(path: Path | str) -> None:
    """Delete a folder without waiting: a test session's database cluster holds gigabytes by
    its end, and deleting it on a busy machine outlasted the last test's time limit."""
    subprocess.Popen(["rm", "-rf", "--", str(path)], start_new_session=True,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def find_binary(binary: str, *extra_dirs: str) -> str:
    """The path of `binary` on PATH or in one of `extra_dirs`; `make test` installs them."""
    found = shutil.which(binary)
    if found:
        return found
    for folder in extra_dirs:
        candidate = Path(folder) / binary
        if candidate.exists():
            return str(candidate)
    raise RuntimeError(f"{binary} not found; `make test` installs it")


def dynsec_plugin() -> str:
    """Mosquitto's dynamic-security plugin: Debian's multiarch folder, or the image's."""
    for folder in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib"):
        candidate = Path(folder) / "mosquitto_dynamic_security.so"
        if candidate.exists():
            return str(candidate)
    raise RuntimeError("mosquitto_dynamic_security.so not found; `make test` installs mosquitto")


class MosquittoServer:
    """Mosquitto with the settings Lintel ships: persistence on, big queues."""

    def __init__(self, *, accounts: Path | None = None, also_on: str | None = None) -> None:
        """`accounts`: a dynamic-security file (`lintel provision`'s); None: anonymous.
        `also_on`: another local address to listen on (a network namespace's veth peer)."""
        self.port = free_port()
        self.host = "127.0.0.1"
        self.dir = Path(tempfile.mkdtemp(prefix="lintel-mosquitto-"))
        self.accounts = accounts
        self.also_on = also_on
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        conf = self.dir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            + (f"listener {self.port} {self.also_on}\n" if self.also_on else "")
            + self._auth_lines()
            + "persistence true\n"
            f"persistence_location {self.dir}/\n"
            "autosave_interval 30\n"  # as deploy/mosquitto/mosquitto.conf ships it
            "max_queued_messages 100000\n"
            "max_inflight_messages 1000\n"
            "log_dest stderr\n"
        )
        if os.geteuid() == 0:
            # Mosquitto drops root privileges to `mosquitto` when started as root.
            shutil.chown(self.dir, user="mosquitto")
            with open(conf, "a") as fh:
                fh.write("user mosquitto\n")
        binary = find_binary("mosquitto", "/usr/sbin")
        self.log = open(self.dir / "mosquitto.log", "wb")  # noqa: SIM115 (lives with proc)
        self.proc = subprocess.Popen([binary, "-c", str(conf)], stdout=self.log, stderr=self.log)
        wait_for_port(self.port)

    def _auth_lines(self) -> str:
        if self.accounts is None:
            return "allow_anonymous true\n"
        # a copy the broker (which drops to the mosquitto user) may read and rewrite
        copy = self.dir / self.accounts.name
        shutil.copyfile(self.accounts, copy)
        os.chmod(copy, 0o644)
        return (f"allow_anonymous false\nplugin {dynsec_plugin()}\n"
                f"plugin_opt_config_file {copy}\n")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None
            self.log.close()

    def kill(self) -> None:
        """SIGKILL, as a crash or power cut: what was not autosaved is forgotten."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None
            self.log.close()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class PostgresServer:
    """A throwaway PostgreSQL cluster; as root it runs as the `postgres` user.

    `settings` are extra server settings (`-c name=value`), e.g. `track_commit_timestamp`
    for a benchmark that times rows at their commit."""

    def __init__(self, settings: dict[str, str] | None = None) -> None:
        self.settings = dict(settings or {})
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="lintel-pg-"))
        self.data = self.dir / "data"
        self._as_postgres = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        cmd = list(args)
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> None:
        bindir = _pg_bindir()
        if self._as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self._run(f"{bindir}/initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "-E", "UTF8", "--locale=C")
        extra = "".join(f" -c {name}={value}" for name, value in self.settings.items())
        self._run(
            f"{bindir}/pg_ctl", "-D", str(self.data), "-l", str(self.dir / "pg.log"), "-w",
            "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off{extra}",
            "start",
        )

    def dsn(self, database: str = "postgres") -> str:
        """A libpq connection string, for psycopg."""
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={database}"

    def url(self, database: str = "postgres", driver: str = "psycopg") -> str:
        return f"postgresql+{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run(f"{_pg_bindir()}/pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            remove_in_background(self.dir)


class PostgresStandby(PostgresServer):
    """A hot standby of `primary`, streaming from it: `pg_basebackup -R` over loopback (the
    primary's initdb defaults already allow replication from 127.0.0.1 with trust)."""

    def __init__(self, primary: PostgresServer) -> None:
        super().__init__()
        self.primary = primary

    def start(self) -> None:
        bindir = _pg_bindir()
        if self._as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self._run(f"{bindir}/pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary.port),
                  "-U", "postgres", "-D", str(self.data), "-R", "-X", "stream", "-c", "fast")
        self.resume()

    def resume(self) -> None:
        """Start the standby's server (again, after `halt`)."""
        self._run(
            f"{_pg_bindir()}/pg_ctl", "-D", str(self.data), "-l", str(self.dir / "pg.log"), "-w",
            "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c shared_buffers=16MB -c hot_standby=on",
            "start",
        )

    def halt(self) -> None:
        """Stop the standby's server, keeping its data for `resume`."""
        self._run(f"{_pg_bindir()}/pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def create_database(self, name: str) -> str:
        raise RuntimeError("a standby is read-only: create the database on the primary")


def _pg_bindir() -> str:
    roots = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    if not roots:
        raise RuntimeError("PostgreSQL server binaries not found; `make test` installs them")
    return str(roots[0])


class VictoriaMetricsServer:
    """VictoriaMetrics: a real server for the InfluxDB sink's line protocol (/api/v2/write),
    read back through /api/v1/export."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="lintel-vm-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = find_binary("victoria-metrics", "/usr/bin")
        self.log = open(self.dir / "victoria-metrics.log", "wb")  # noqa: SIM115 (lives with proc)
        self.proc = subprocess.Popen(
            [binary, f"-httpListenAddr=127.0.0.1:{self.port}",
             f"-storageDataPath={self.dir / 'data'}", "-retentionPeriod=100y"],
            stdout=self.log, stderr=self.log)
        wait_for_port(self.port, timeout=20)

    def export(self, match: str) -> list[dict[str, Any]]:
        """Every series matching `match`, flushed first so fresh writes are visible."""
        urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=5).close()
        query = urllib.parse.urlencode({"match[]": match})
        with urllib.request.urlopen(f"{self.url}/api/v1/export?{query}", timeout=5) as resp:
            return [json.loads(line) for line in resp.read().decode().splitlines() if line]

    def export_until(self, match: str, series: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.export(match)
            if len(found) >= series or time.monotonic() > deadline:
                return found
            time.sleep(0.1)

    def cleanup(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
