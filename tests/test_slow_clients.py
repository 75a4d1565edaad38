"""Idle and slow clients facing gunicorn directly (no buffering router) stall nothing.

The app runs as the Procfile says, with the repository's gunicorn.conf.py and its
default 2 workers. With sync workers one idle connection holds a worker until it is
killed at the 30 s timeout, and a body shorter than its Content-Length gets a 500 then.
"""

from __future__ import annotations

import os
import selectors
import socket
import threading
import time
from pathlib import Path

import pytest
import requests

from .servers import Gunicorn, service_env

pytestmark = pytest.mark.slow

FEED = "/topics/north-korean-defectors/rss.xml"
IDLE = 50
TRICKLING = 10
WINDOW = 6.0  # seconds of normal requests under that pressure
TOKEN = "slow-clients-test"


def worker_pids(master: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:  # exited meanwhile
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:  # ppid, after "(comm)"
                found.append(int(entry))
    return sorted(found)


class Pressure:
    """IDLE connections that never send, and TRICKLING clients sending a request one byte
    a second; any the server closes is opened again, so the pressure lasts."""

    def __init__(self, port: int):
        self.address = ("127.0.0.1", port)
        self.done = threading.Event()
        self.threads = [threading.Thread(target=self._idle, daemon=True)]
        self.threads += [threading.Thread(target=self._trickle, daemon=True) for _ in range(TRICKLING)]

    def __enter__(self) -> Pressure:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        for thread in self.threads:
            thread.join(timeout=5)

    def _idle(self) -> None:
        with selectors.DefaultSelector() as selector:
            for _ in range(IDLE):
                selector.register(socket.create_connection(self.address), selectors.EVENT_READ)
            while not self.done.is_set():
                for key, _ in selector.select(timeout=0.2):
                    selector.unregister(key.fileobj)
                    key.fileobj.close()  # the server closed it (readable at EOF)
                    selector.register(socket.create_connection(self.address), selectors.EVENT_READ)
            for key in list(selector.get_map().values()):
                key.fileobj.close()

    def _trickle(self) -> None:
        request = f"GET {FEED} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
        while not self.done.is_set():
            with socket.create_connection(self.address) as sock:
                try:
                    for byte in request:
                        sock.sendall(bytes([byte]))
                        if self.done.wait(1):
                            return
                except OSError:  # closed by the server: start again
                    pass


def short_body(port: int, answer: dict) -> None:
    """An ingest POST announcing 1,000 bytes and sending 10; what comes back, and when."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(20)
        sock.sendall(
            b"POST /api/stories HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + f"Authorization: Bearer {TOKEN}\r\n".encode()
            + b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
            + b'[{"id": "1'
        )
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
            answer["closed"] = True
        except OSError as exc:  # no answer in 20 s, or reset
            answer["error"] = repr(exc)
    answer["received"] = received
    answer["seconds"] = time.monotonic() - started


@pytest.fixture
def served(sqlite_url, sample_app):
    env = service_env(DATABASE_URL=sqlite_url, INGEST_TOKENS=TOKEN)
    with Gunicorn(env) as server:
        yield server


def test_idle_and_trickling_clients_do_not_stall_feed_requests(served):
    port, master = served.port, served.process.pid
    with requests.Session() as warm:
        for _ in range(6):  # every worker has the feed rendered
            assert warm.get(served.base + FEED, timeout=10).status_code == 200
    workers = worker_pids(master)
    assert len(workers) == 2

    answer: dict = {}
    slow_post = threading.Thread(target=short_body, args=(port, answer), daemon=True)
    taken = []
    with Pressure(port):
        slow_post.start()
        time.sleep(0.5)  # the idle and slow connections are in
        end = time.monotonic() + WINDOW
        while time.monotonic() < end:
            started = time.monotonic()
            try:  # a new connection each time, as a new client's would be
                status = requests.get(served.base + FEED, timeout=5).status_code
            except requests.RequestException as exc:
                status = repr(exc)
            taken.append(time.monotonic() - started)
            assert status == 200 and taken[-1] < 1.0, f"after {taken}: {status}"
            time.sleep(0.25)
        slow_post.join(timeout=20)

    assert len(taken) >= 15
    status_line = answer["received"].split(b"\r\n", 1)[0]
    assert status_line.startswith((b"HTTP/1.1 400", b"HTTP/1.1 408")) or answer["received"] == b"", answer
    assert answer.get("closed"), f"the short-bodied request was left hanging: {answer}"
    assert worker_pids(master) == workers, "a worker was replaced"

    served.stop()
    log = served.log.read_text()
    assert "WORKER TIMEOUT" not in log and "was sent SIG" not in log, log[-3000:]
    assert '"status": 500' not in log
