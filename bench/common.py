"""What every benchmark needs: a gunicorn of the app on a free port, wrk, and a baseline.

The baseline is a constant body of a chosen size served by the same app through the same
`send_rendered` (ETag, gzip negotiation, Cache-Control), registered only when the
BENCH_BASELINE setting is on. A benchmark measures its endpoint and the baseline of the
same size in the same run, alternating, and prints the ratio of requests per second.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from flask import Blueprint

ROOT = Path(__file__).resolve().parent.parent
BASELINE_PATH = "/_bench/constant/{size}"
MAX_BASELINE_SIZE = 10_000_000

baseline_bp = Blueprint("bench_baseline", __name__)
_baseline_bodies: dict[int, object] = {}


@baseline_bp.get("/_bench/constant/<int:size>")
def constant(size: int):
    from serving.rendered import Rendered, send_rendered

    if not 0 < size <= MAX_BASELINE_SIZE:
        return "size out of range", 400
    rendered = _baseline_bodies.get(size)
    if rendered is None:
        rendered = _baseline_bodies[size] = Rendered.of(b"x" * size, "application/json")
    return send_rendered(rendered, max_age=60)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def flask_cli(env: dict, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, env=env,
                   check=True, stdout=subprocess.DEVNULL)


@contextlib.contextmanager
def sample_environment(**settings: str) -> Iterator[dict]:
    """Environment for a throwaway SQLite database holding the sample topic."""
    with tempfile.TemporaryDirectory(prefix="storyfeed-bench-") as tmp:
        env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp}/bench.sqlite3",
                   BENCH_BASELINE="1", LOG_LEVEL="warning", **settings)
        flask_cli(env, "db", "upgrade")
        flask_cli(env, "stories", "sample")
        yield env


@contextlib.contextmanager
def gunicorn(env: dict, workers: int = 2, site_url: str | None = None) -> Iterator[str]:
    """`gunicorn app:app` with the repository's gunicorn.conf.py; yields its base URL.

    `site_url` is the public URL; instances behind one router share it (default: this
    instance's own address)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # As in production, SITE_URL names the public URL (links need not come from Host).
    env = dict(env, SITE_URL=site_url or base + "/", HOST="127.0.0.1", PORT=str(port),
               WEB_CONCURRENCY=str(workers))
    # No control socket: its default path is shared by every gunicorn on the machine.
    command = [sys.executable, "-m", "gunicorn", "--no-control-socket", "app:app"]
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_up(base + "/healthz", proc, log)
            yield base
        finally:
            _stop(proc)


def _stop(proc: subprocess.Popen, timeout: float = 30) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _wait_until_up(url: str, proc: subprocess.Popen, log) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"gunicorn exited:\n{log.read().decode(errors='replace')}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer {url} within 30 s")


def fetch(url: str, times: int = 1) -> bytes:
    """GET `url` (several times, so every worker has it warm); the last body."""
    body = b""
    for _ in range(times):
        with urllib.request.urlopen(url, timeout=10) as response:
            if response.status != 200:
                raise RuntimeError(f"{url} answered {response.status}")
            body = response.read()
    return body


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    latency_p50_ms: float
    errors: int


def _wrk_command(url: str, seconds: int, connections: int, threads: int,
                 headers: dict[str, str] | None) -> list[str]:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    return command + [url]


def _parse_wrk(out: str) -> WrkResult:
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))
    p50 = re.search(r"50%\s+([0-9.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p50.group(2)] if p50 else 0.0
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+([0-9]+)", out))
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) ([0-9]+)", out))
    return WrkResult(rps, float(p50.group(1)) * scale if p50 else 0.0, errors)


def wrk(url: str, *, seconds: int = 8, connections: int = 8, threads: int = 1,
        headers: dict[str, str] | None = None) -> WrkResult:
    out = subprocess.run(_wrk_command(url, seconds, connections, threads, headers),
                         check=True, capture_output=True, text=True).stdout
    return _parse_wrk(out)


def wrk_together(urls: list[str], *, seconds: int = 8, connections: int = 8, threads: int = 1,
                 headers: dict[str, str] | None = None) -> list[WrkResult]:
    """One wrk per URL, all running at the same time (a load generator with several
    targets, as a router would spread the load); their results in the order of `urls`."""
    procs: list[subprocess.Popen] = []
    try:
        for url in urls:
            procs.append(subprocess.Popen(
                _wrk_command(url, seconds, connections, threads, headers),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        outputs = [proc.communicate(timeout=seconds + 30) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                _stop(proc, timeout=5)
    for proc, (out, err) in zip(procs, outputs):
        if proc.returncode != 0:
            raise RuntimeError(f"wrk failed ({proc.returncode}): {err.strip()}")
    return [_parse_wrk(out) for out, _ in outputs]


def compare(name: str, url: str, base: str, size: int, *, rounds: int = 5,
            seconds: int = 4) -> float:
    """Alternate wrk runs of `url` and the same-size baseline; print medians and the ratio.

    The ratio is the median of each round's ratio, so a neighbour's load that comes and
    goes weighs on both sides of a round alike."""
    baseline_url = base + BASELINE_PATH.format(size=size)
    fetch(baseline_url, times=4)
    measured: dict[str, list[WrkResult]] = {name: [], "baseline": []}
    for _ in range(rounds):
        measured["baseline"].append(wrk(baseline_url, seconds=seconds))
        measured[name].append(wrk(url, seconds=seconds))
    for label, results in measured.items():
        if any(r.errors for r in results):
            raise RuntimeError(f"{label}: wrk saw errors: {[r.errors for r in results]}")
        rps = statistics.median(r.requests_per_second for r in results)
        p50 = statistics.median(r.latency_p50_ms for r in results)
        runs = ", ".join(f"{r.requests_per_second:.0f}" for r in results)
        print(f"  {label:<26} {rps:>7.0f} req/s median  (runs {runs}; p50 {p50:.2f} ms)")
    ratio = statistics.median(
        m.requests_per_second / b.requests_per_second
        for m, b in zip(measured[name], measured["baseline"])
    )
    print(f"  {name} / baseline = {ratio:.2f}  (median of {rounds} paired runs, {size} bytes each)")
    return ratio
