"""Real servers for tests: any WSGI app in a thread of this process, gunicorn started as
the Procfile says, and a redis-server or a PostgreSQL server of a test's own; all on free
127.0.0.1 ports."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
import requests
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

ROOT = Path(__file__).resolve().parent.parent

WSGIApp = Callable[..., Any]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Handler(WSGIRequestHandler):
    """Werkzeug's handler, quiet, and known to the server so that `stop` can cut it off."""

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def log_request(self, *args: Any) -> None:  # keep test output clean
        pass


class InThread:
    """A WSGI app (the Flask app, or a small stand-in for an upstream, a hub, a static
    host) served by werkzeug on a free 127.0.0.1 port in a daemon thread of this process.

    The one way tests serve something in-process; bench/ may use it too. The port is bound
    at once, so `base` and `port` are known before `start`; `stop` closes kept-alive
    connections as well, so a stopped server answers nothing.
    """

    def __init__(self, app: WSGIApp):
        self._server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True,
                                                   request_handler=_Handler)
        self._server.connections = set()  # type: ignore[attr-defined]
        self._server.connections_lock = threading.Lock()  # type: ignore[attr-defined]
        self.port: int = self._server.server_port
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None
        self._stopped = False

    def start(self) -> InThread:
        # A short poll interval: `stop` waits for the serving loop to notice, and the
        # default half second, per server, was a large part of the suite's time.
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
        self._server.server_close()
        with self._server.connections_lock:  # type: ignore[attr-defined]
            for connection in list(self._server.connections):  # type: ignore[attr-defined]
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # the client closed it already

    def __enter__(self) -> InThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def procfile_command(process: str) -> list[str]:
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process:
            return shlex.split(command)
    raise AssertionError(f"no {process} process in the Procfile")


def service_env(**settings: str) -> dict[str, str]:
    """The environment of a service process: this one's, with the venv first on PATH."""
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "LOG_LEVEL": "WARNING"}
    env.update(settings)
    return env


def flask_cli(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", *args],
        cwd=ROOT, env=env, input=stdin, capture_output=True, text=True, timeout=120,
    )


class Gunicorn:
    """`web:` from the Procfile on a free port; `base` is its URL once started."""

    def __init__(self, env: dict[str, str], workers: int = 2, control_socket: bool = False):
        self.port = free_port()
        # No control socket unless a test is about it: nothing else needs one, and each
        # would be a file left in the user's runtime folder.
        self.env = {**env, "PORT": str(self.port), "HOST": "127.0.0.1", "WEB_CONCURRENCY": str(workers)}
        if not control_socket:
            self.env["GUNICORN_CMD_ARGS"] = "--no-control-socket"
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.log = ROOT / "test-artifacts" / f"gunicorn-{self.port}.log"

    def start(self, timeout: float = 30) -> Gunicorn:
        self.log.parent.mkdir(exist_ok=True)
        self.process = subprocess.Popen(
            procfile_command("web"), cwd=ROOT, env=self.env,
            stdout=self.log.open("wb"), stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                requests.get(f"{self.base}/healthz", timeout=2)
                return self
            except requests.RequestException:  # not listening yet, or workers still booting
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise AssertionError(f"gunicorn did not start:\n{self.log.read_text()}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None

    def __enter__(self) -> Gunicorn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class RedisServer:
    """A redis-server of the test's own, on a free port, that the test can stop and start.

    With `tls`, as Heroku Redis serves: TLS only (`rediss://`), a self-signed certificate
    made for the test, and a password in the URL.
    """

    def __init__(self, tmp_path: Path, tls: bool = False, password: str | None = None):
        self.port = free_port()
        self.dir = tmp_path
        self.tls = tls
        self.password = password
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"{'rediss' if self.tls else 'redis'}://{auth}127.0.0.1:{self.port}/0"

    def _self_signed(self) -> tuple[Path, Path]:
        cert, key = self.dir / "redis-cert.pem", self.dir / "redis-key.pem"
        if not cert.exists():
            subprocess.run(
                ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                 "-subj", "/CN=redis.example", "-keyout", str(key), "-out", str(cert)],
                check=True, capture_output=True, timeout=60,
            )
        return cert, key

    def start(self) -> None:
        command = ["redis-server", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                   "--dir", str(self.dir)]
        if self.tls:
            cert, key = self._self_signed()
            command += ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", str(cert),
                        "--tls-key-file", str(key), "--tls-auth-clients", "no"]
        else:
            command += ["--port", str(self.port)]
        if self.password:
            command += ["--requirepass", self.password]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # The test's own certificate is known not to verify: accept it to see the server up.
        client = redis.Redis.from_url(self.url, **({"ssl_cert_reqs": "none"} if self.tls else {}))
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


class PostgresCluster:
    """A PostgreSQL server of the test's own (initdb into a temporary folder, as the
    `postgres` user when run as root), on a free port: a test may freeze, stop and start
    it, which it must never do to the shared server."""

    def __init__(self) -> None:
        self.port = free_port()
        # Not under tmp_path: its parents are private to root, and the server runs as postgres.
        self.dir = Path(tempfile.mkdtemp(prefix="storyfeed-pg-"))
        self.data = self.dir / "data"
        self.bin = _postgres_bin()
        self._user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._user:
            shutil.chown(self.dir, "postgres", "postgres")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        subprocess.run([*self._user, *command], check=True, capture_output=True, timeout=120)

    def start(self) -> PostgresCluster:
        if not self.data.exists():
            self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                      "--auth=trust", "-E", "UTF8", "--no-sync")
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"),
                  "-o", options, "-w", "start")
        return self

    @property
    def pid(self) -> int:
        """The postmaster's."""
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def processes(self) -> list[int]:
        """The postmaster and its children (backends, background workers). Each child
        leads a process group of its own, so one killpg does not reach them."""
        postmaster = self.pid
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # ended meanwhile
            if int(fields[1]) == postmaster:
                children.append(int(stat.parent.name))
        return [postmaster, *children]

    def signal(self, signum: int) -> None:
        """`signum` to the postmaster first, then to every child (SIGSTOP freezes the
        server: its kernel still accepts connections and acknowledges data, and nothing
        answers)."""
        for pid in self.processes():
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass  # a backend that ended meanwhile

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.signal(signal.SIGCONT)
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.remove()


def _postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql")
    return found[-1].parent
