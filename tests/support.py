"""Helpers shared by the tests: free ports, the scalable time unit, private redis-server processes, and
the removal of one tenant's keys."""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

# Multiply test timeouts by this on slow machines: OMNIROUTE_TEST_UNIT=3 make test
UNIT = float(os.environ.get("OMNIROUTE_TEST_UNIT", "1.0"))


def _missing(binary: str, package: str) -> str:
    return f"{binary} not found: run `make test` (it installs it) or apt-get install {package}"


REDIS_SERVER_MISSING = _missing("redis-server", "redis-server")
REDIS_CLI_MISSING = _missing("redis-cli", "redis-tools")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def new_tenant() -> str:
    """A tenant name no other test uses."""
    return "t" + uuid.uuid4().hex[:10]


def tenant_pattern(tenant: str) -> str:
    """The SCAN pattern of every key of ``tenant`` (glob characters in the name escaped)."""
    escaped = "".join("\\" + c if c in "*?[]\\" else c for c in tenant)
    return f"or:{{{escaped}}}:*"


def delete_tenant_keys(urls: Iterable[str], tenant: str) -> int:
    """Delete the keys ``or:{tenant}:*`` in every Redis of ``urls`` (SCAN + UNLINK, never KEYS or FLUSH).

    For a Redis Cluster pass every master's URL: SCAN on a node returns that node's keys only.
    Returns how many keys were deleted.
    """
    deleted = 0
    for url in urls:
        client = redis.Redis.from_url(url)
        try:
            batch: list[bytes] = []
            for key in client.scan_iter(match=tenant_pattern(tenant), count=1000):
                batch.append(key)
                if len(batch) >= 500:
                    deleted += client.unlink(*batch)
                    batch.clear()
            if batch:
                deleted += client.unlink(*batch)
        finally:
            client.close()
    return deleted


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the test process dies, so no redis-server outlives a
    killed pytest."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class RedisServer:
    """A ``redis-server`` child process on 127.0.0.1 with its own directory, for tests."""

    def __init__(self, directory: Path, port: int, process: subprocess.Popen) -> None:
        self.directory = directory
        self.port = port
        self.process = process
        self.host = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @property
    def log(self) -> Path:
        return self.directory / "redis.log"

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    @classmethod
    def start(
        cls,
        directory: Path,
        *args: str,
        timeout: float = 15.0,
        attempts: int = 3,
        cluster: bool = False,
        port: int | None = None,
    ) -> RedisServer:
        """Start redis-server in ``directory`` on a free port and wait until it answers PING.

        ``args`` are extra redis-server options (e.g. ``"--save", ""``). With ``cluster`` the server runs in
        cluster mode with its cluster bus on a second free port. Another process taking the port between
        our look and redis-server's bind is retried.
        """
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError(REDIS_SERVER_MISSING)
        directory.mkdir(parents=True, exist_ok=True)
        last_log = ""
        fixed = port
        for _ in range(attempts):
            port = fixed or free_port()
            argv = [
                binary,
                "--port", str(port),
                "--bind", "127.0.0.1",
                "--dir", str(directory),
                "--logfile", "redis.log",
                "--daemonize", "no",
                *args,
            ]  # fmt: skip
            if cluster:
                argv += [
                    "--cluster-enabled", "yes",
                    "--cluster-config-file", "nodes.conf",
                    "--cluster-port", str(free_port()),
                    "--cluster-node-timeout", "5000",
                ]  # fmt: skip
            for leftover in ("redis.log", "nodes.conf"):  # from a failed attempt
                (directory / leftover).unlink(missing_ok=True)
            process = subprocess.Popen(
                argv,
                cwd=directory,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C on pytest reaches pytest only; teardown stops us
                preexec_fn=_die_with_parent,
            )
            server = cls(directory, port, process)
            if server.wait_ready(timeout * UNIT):
                return server
            last_log = server.log_tail()
            server.stop()
            if "Address already in use" not in last_log:
                break
        raise RuntimeError(f"redis-server did not start in {directory}; its log ends with:\n{last_log}")

    def client(self, **kwargs) -> redis.Redis:
        """A client of this server that does not retry (redis-py retries with backoff by default, which
        makes a PING loop or a SHUTDOWN take seconds)."""
        kwargs.setdefault("retry", Retry(NoBackoff(), 0))
        return redis.Redis(host=self.host, port=self.port, **kwargs)

    def wait_ready(self, timeout: float) -> bool:
        """True once the server answers PING; False if it exits or the time runs out."""
        deadline = time.monotonic() + timeout
        client = self.client(socket_connect_timeout=1, socket_timeout=1)
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    return False
                try:
                    if client.ping():
                        return True
                except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
                    pass
                time.sleep(0.02)
            return False
        finally:
            client.close()

    def stop(self) -> None:
        """SHUTDOWN NOSAVE, then SIGTERM/SIGKILL if it does not go."""
        if self.process.poll() is None:
            client = self.client(socket_connect_timeout=1, socket_timeout=2)
            with contextlib.suppress(redis.RedisError):
                client.shutdown(nosave=True)
            client.close()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.terminate()
                try:
                    self.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()


def cluster_create(servers: list[RedisServer], timeout: float = 30.0) -> None:
    """Make one Redis Cluster of ``servers`` (all masters, no replicas) and wait until every node says
    cluster_state:ok and knows every other node."""
    cli = shutil.which("redis-cli")
    if cli is None:
        raise FileNotFoundError(REDIS_CLI_MISSING)
    nodes = [f"{s.host}:{s.port}" for s in servers]
    result = subprocess.run(
        [cli, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60 * UNIT,
    )
    if result.returncode != 0:
        raise RuntimeError(f"redis-cli --cluster create failed:\n{result.stdout}\n{result.stderr}")
    deadline = time.monotonic() + timeout * UNIT
    clients = [s.client(decode_responses=True) for s in servers]
    try:
        while True:
            infos = [c.cluster("INFO") for c in clients]
            if all(
                str(i.get("cluster_state")) == "ok" and int(i.get("cluster_known_nodes", 0)) == len(servers)
                for i in infos
            ):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the cluster did not become ok within {timeout * UNIT:.0f}s: {infos}")
            time.sleep(0.05)
    finally:
        for c in clients:
            c.close()
