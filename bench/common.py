"""What every benchmark needs: gunicorn on a free port, wrk, the two baselines, tables.

The reference for "how fast could this be" is not the app itself: it is two tiny apps
that replay the app's own answers byte for byte (status, headers, body), each served by
its own gunicorn with the same `gunicorn.conf.py` (worker class, workers, access log):

- `bench.baseline_wsgi`: a raw WSGI callable, the floor of what gunicorn costs;
- `bench.baseline_flask`: a bare Flask app whose one view returns the same answers,
  what Flask's dispatch adds on top.

A benchmark records the app's answers (`record_answers`), starts the three servers, and
loads them one after the other, round after round (`measure`), so a neighbour's load
that comes and goes weighs on all three alike; ratios are medians of each round's ratio.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONF = ROOT / "gunicorn.conf.py"
# Answers the baselines replay: a JSON file named by this variable (see record_answers).
ANSWERS_VARIABLE = "BENCH_ANSWERS"
WRK_THREADS = 2
WRK_CONNECTIONS = 16

# -- servers --------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def flask_cli(env: dict, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, env=env,
                   check=True, stdout=subprocess.DEVNULL)


def bench_env(**settings: str) -> dict[str, str]:
    # Metrics on, as the goals of issue 20 ask (without a token no request is counted).
    env = dict(os.environ, LOG_LEVEL="warning", METRICS_TOKEN="bench-metrics-token", **settings)
    for name in ("WEBSUB_HUB", "REDIS_URL"):
        if name not in settings:
            env.pop(name, None)
    return env


@contextlib.contextmanager
def sample_environment(**settings: str) -> Iterator[dict]:
    """Environment for a throwaway SQLite database holding the sample topic."""
    with tempfile.TemporaryDirectory(prefix="storyfeed-bench-") as tmp:
        env = bench_env(DATABASE_URL=f"sqlite:///{tmp}/bench.sqlite3", **settings)
        flask_cli(env, "db", "upgrade")
        flask_cli(env, "stories", "sample")
        yield env


@dataclass
class Server:
    """A running gunicorn: its base URL and master process."""

    base: str
    process: subprocess.Popen

    def worker_pids(self) -> list[int]:
        return children(self.process.pid)

    def worker_rss_kib(self) -> list[int]:
        """VmRSS of each worker, from /proc/<pid>/status."""
        return [rss_kib(pid) for pid in self.worker_pids()]


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # gone meanwhile
            continue
        # The command name may hold spaces and parentheses: the fields start after the last ")".
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry))
    return sorted(found)


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    """A size in KiB from /proc/<pid>/status: VmRSS, or a part of it (RssAnon, RssFile)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


@contextlib.contextmanager
def gunicorn(env: dict, app: str = "wsgi:app", *, site_url: str | None = None,
             args: tuple[str, ...] = ()) -> Iterator[Server]:
    """`gunicorn -c gunicorn.conf.py APP` on a free port, as the Procfile runs the app;
    `args` go before APP (they override the file, as on a command line).

    `site_url` is the public URL; instances behind one router share it (default: this
    instance's own address)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # As in production, SITE_URL names the public URL (links need not come from Host).
    env = dict(env, SITE_URL=site_url or base + "/", HOST="127.0.0.1", PORT=str(port))
    command = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), *args, app]
    # The access log (stdout) goes to a file, as a PaaS log drain would take it.
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_up(base, proc, log)
            yield Server(base, proc)
        finally:
            stop(proc)


def stop(proc: subprocess.Popen, timeout: float = 30) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _wait_until_up(base: str, proc: subprocess.Popen, log) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"gunicorn exited:\n{log.read().decode(errors='replace')}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2):
                return
        except urllib.error.HTTPError:  # answering (a baseline has no /healthz)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer {base} within 30 s")


# -- answers: what the app says, replayed by the baselines -----------------------------

@dataclass(frozen=True)
class Answer:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


# Per connection or per server: the baselines send their own.
HOP_HEADERS = {"date", "server", "connection", "keep-alive", "transfer-encoding", "content-length"}


def get(url: str, headers: dict[str, str] | None = None, timeout: float = 30) -> Answer:
    """One GET as wrk sends it (no Accept-Encoding), whatever the status. With a request id
    of its own: each answer echoes it (serving/logs.py), so instances' answers compare
    equal, and the baselines replay the header as storyfeed sends it."""
    request = urllib.request.Request(url, headers={"Accept-Encoding": "identity", "X-Request-ID": "bench",
                                                   **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, head, body = response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:  # urllib raises on 304 too
        status, head, body = exc.code, exc.headers, exc.read()
    kept = tuple((k, v) for k, v in head.items() if k.lower() not in HOP_HEADERS)
    return Answer(status, kept, body)


def warm(url: str, headers: dict[str, str] | None = None, times: int = 8) -> Answer:
    """GET `url` several times (so every worker has it warm); the last answer."""
    answer = None
    for _ in range(times):
        answer = get(url, headers)
        if answer.status >= 400:
            raise RuntimeError(f"{url} answered {answer.status}: {answer.body[:200]!r}")
    return answer


def header(answer: Answer, name: str) -> str:
    return next(v for k, v in answer.headers if k.lower() == name.lower())


def save_answers(path: Path, answers: dict[str, dict[str, Answer]]) -> None:
    """Write {path_and_query: {if_none_match or "": Answer}} for the baselines."""
    path.write_text(json.dumps({
        target: {etag: {"status": a.status, "headers": a.headers,
                        "body": base64.b64encode(a.body).decode()}
                 for etag, a in by_etag.items()}
        for target, by_etag in answers.items()
    }))


def load_answers() -> dict[str, dict[str, Answer]]:
    raw = json.loads(Path(os.environ[ANSWERS_VARIABLE]).read_text())
    return {
        target: {etag: Answer(a["status"], tuple(tuple(h) for h in a["headers"]),
                              base64.b64decode(a["body"]))
                 for etag, a in by_etag.items()}
        for target, by_etag in raw.items()
    }


# -- wrk ------------------------------------------------------------------------------

@dataclass(frozen=True)
class WrkResult:
    requests: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


def wrk_command(url: str, seconds: float, connections: int, threads: int,
                headers: dict[str, str] | None = None, script: str | None = None,
                timeout: float = 2) -> list[str]:
    """wrk's command line; an answer slower than `timeout` seconds counts as an error."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", f"--timeout={timeout}s",
               "--latency"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if script:
        command += ["-s", script]
    return command + [url]


def _ms(match: re.Match | None) -> float:
    if match is None:
        return float("nan")
    return float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[match.group(2)]


def parse_wrk(out: str) -> WrkResult:
    """Requests, req/s, the 50th and 99th latency percentiles (--latency) and errors."""
    requests = int(re.search(r"([0-9]+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+([0-9.]+)(us|ms|s|m)\s*$", out, re.M))
    p99 = _ms(re.search(r"^\s+99%\s+([0-9.]+)(us|ms|s|m)\s*$", out, re.M))
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+([0-9]+)", out))
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) ([0-9]+)", out))
    return WrkResult(requests, rps, p50, p99, errors)


def wrk(url: str, *, seconds: float = 3, connections: int = WRK_CONNECTIONS,
        threads: int = WRK_THREADS, headers: dict[str, str] | None = None,
        script: str | None = None, timeout: float = 2) -> WrkResult:
    out = subprocess.run(wrk_command(url, seconds, connections, threads, headers, script, timeout),
                         check=True, capture_output=True, text=True).stdout
    return parse_wrk(out)


def wrk_together(urls: list[str], *, seconds: float = 3, connections: int = WRK_CONNECTIONS,
                 headers: dict[str, str] | None = None) -> WrkResult:
    """One wrk per URL, all at once, the connections split between them (a load generator
    with several targets, as a router spreads the load); their results added up."""
    procs: list[subprocess.Popen] = []
    share = max(1, connections // len(urls))
    try:
        for url in urls:
            procs.append(subprocess.Popen(
                wrk_command(url, seconds, share, 1, headers),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        outputs = [proc.communicate(timeout=seconds + 30) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                stop(proc, timeout=5)
    for proc, (_, err) in zip(procs, outputs, strict=True):
        if proc.returncode != 0:
            raise RuntimeError(f"wrk failed ({proc.returncode}): {err.strip()}")
    results = [parse_wrk(out) for out, _ in outputs]
    return WrkResult(
        requests=sum(r.requests for r in results),
        requests_per_second=sum(r.requests_per_second for r in results),
        # Each wrk saw half the connections; the slower one's percentiles are the honest ones.
        p50_ms=max(r.p50_ms for r in results),
        p99_ms=max(r.p99_ms for r in results),
        errors=sum(r.errors for r in results),
    )


# -- measuring and printing -----------------------------------------------------------

RAW, FLASK, APP = "raw WSGI", "bare Flask", "storyfeed"


@dataclass
class Case:
    """One request measured against the baselines; `bases` maps each server to the base
    URLs its load is spread over (one, or two instances)."""

    name: str
    target: str  # path and query
    headers: dict[str, str] = field(default_factory=dict)
    goal: float | None = None  # storyfeed's req/s at least this times raw WSGI's
    note: str = ""
    runs: dict[str, list[WrkResult]] = field(default_factory=dict)


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


def rounds_and_seconds(quick: bool) -> tuple[int, float]:
    """How `measure` slices a throughput bench: short slices, many rounds, so that a
    neighbour's burst of load lands on all the servers of a round rather than on one (with
    3 rounds of 2 s, the 304 ratio moved by up to 0.16 from one run to the next)."""
    return (2, 1) if quick else (6, 1)


def measure(cases: list[Case], bases: dict[str, list[str]], *, rounds: int, seconds: float) -> None:
    """Every round loads every case on every server, one after the other."""
    for n in range(rounds):
        started = time.monotonic()
        for case in cases:
            for server, urls in bases.items():
                targets = [url + case.target for url in urls]
                result = (wrk(targets[0], seconds=seconds, headers=case.headers)
                          if len(targets) == 1 else
                          wrk_together(targets, seconds=seconds, headers=case.headers))
                case.runs.setdefault(server, []).append(result)
        print(f"  round {n + 1}/{rounds} in {time.monotonic() - started:.0f} s, {load_average()}",
              flush=True)


def ratio(case: Case, server: str, reference: str) -> float:
    return statistics.median(s.requests_per_second / r.requests_per_second
                             for s, r in zip(case.runs[server], case.runs[reference], strict=True))


def print_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    table = [header] + rows
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for n, row in enumerate(table):
        print("  " + "  ".join(cell.rjust(w) if i else cell.ljust(w)
                               for i, (cell, w) in enumerate(zip(row, widths, strict=True))))
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))


def report(case: Case) -> bool:
    """The case's table; whether its goal is met (True when it has none)."""
    print(f"\n{case.name}: GET {case.target}"
          + "".join(f"  [{k}: {v}]" for k, v in case.headers.items()))
    if case.note:
        print(f"  {case.note}")
    rows = []
    for server, results in case.runs.items():
        rows.append((
            server,
            f"{statistics.median(r.requests_per_second for r in results):.0f}",
            f"{statistics.median(r.p50_ms for r in results):.2f}",
            f"{statistics.median(r.p99_ms for r in results):.2f}",
            f"{ratio(case, server, RAW):.2f}x",
            f"{ratio(case, server, FLASK):.2f}x",
            " ".join(f"{r.requests_per_second:.0f}" for r in results),
        ))
    print_table(("server", "req/s", "p50 ms", "p99 ms", "vs raw WSGI", "vs bare Flask",
                 "req/s of each round"), rows)
    errors = {server: sum(r.errors for r in results) for server, results in case.runs.items()}
    if any(errors.values()):
        print(f"  warning: wrk saw errors or non-2xx/3xx answers: {errors}")
    if case.goal is None:
        return not any(errors.values())
    met = ratio(case, APP, RAW) >= case.goal and not any(errors.values())
    print(f"  goal: storyfeed >= {case.goal}x raw WSGI: {'met' if met else 'NOT met'}")
    return met


def record(cases: list[Case], bases: list[str]) -> dict[str, dict[str, Answer]]:
    """Warm every case on every instance and keep its answer for the baselines; checks
    that instances agree (same bytes, same ETag) and that a 304 case gets its 304."""
    answers: dict[str, dict[str, Answer]] = {}
    for case in cases:
        found = {warm(base + case.target, case.headers) for base in bases}
        if len(found) != 1:
            raise RuntimeError(f"{case.target}: the instances answer differently")
        (answer,) = found
        expected = 304 if "If-None-Match" in case.headers else 200
        if answer.status != expected:
            raise RuntimeError(f"{case.target} {case.headers}: {answer.status}, not {expected}")
        answers.setdefault(case.target, {})[case.headers.get("If-None-Match", "")] = answer
    return answers


@contextlib.contextmanager
def baselines(env: dict, answers: dict[str, dict[str, Answer]],
              instances: int = 1) -> Iterator[dict[str, list[str]]]:
    """Both baselines replaying `answers`, `instances` of each; yields {name: base URLs},
    after checking that each replays every answer exactly."""
    with tempfile.TemporaryDirectory(prefix="storyfeed-bench-") as tmp, \
            contextlib.ExitStack() as stack:
        path = Path(tmp) / "answers.json"
        save_answers(path, answers)
        env = dict(env, **{ANSWERS_VARIABLE: str(path)})
        servers = {
            name: [stack.enter_context(gunicorn(env, module)).base for _ in range(instances)]
            for name, module in ((RAW, "bench.baseline_wsgi:app"), (FLASK, "bench.baseline_flask:app"))
        }
        for name, urls in servers.items():
            for url in urls:
                for target, by_etag in answers.items():
                    for etag, expected in by_etag.items():
                        got = get(url + target, {"If-None-Match": etag} if etag else None)
                        if (got.status, sorted(got.headers), got.body) != (
                                expected.status, sorted(expected.headers), expected.body):
                            raise RuntimeError(f"{name} does not replay {target} ({etag or 200}):"
                                               f" {got.status} {got.headers}")
        yield servers
