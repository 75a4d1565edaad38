"""gunicorn settings from the environment (PaaS convention: PORT, WEB_CONCURRENCY).

Read through the settings table (`serving/settings.py`), like the app's: the master
checks every setting before any worker starts, and stops with a line naming a bad one.
Anything else is overridden the way gunicorn reads after this file: GUNICORN_CMD_ARGS
(e.g. "--worker-connections 500") or the command line.
"""

import glob
import os
import tempfile

from gunicorn.config import ControlSocket

from serving.logs import refuse_start
from serving.settings import load_settings
from stories.errors import SettingsError

try:
    settings = load_settings(gunicorn=True)
except SettingsError as exc:
    refuse_start(exc)

host = settings["HOST"]
port = settings["PORT"]
bind = f"{host}:{port}"
workers = settings["WEB_CONCURRENCY"]
# gevent: one worker holds up to worker_connections (1,000) connections, and a request
# whose headers are not complete within `keepalive` seconds is dropped. A sync worker
# facing clients directly is held by one idle or slow connection (30 s, then killed); a
# gthread worker's thread is held 5 s by an idle connection and for as long as a slow one
# keeps trickling, so it stalls once slow connections outnumber its threads.
# `python -m bench.workers` (and the same by hand), 2 workers, warm feed, 2 shared cores
# at load 5-12: req/s over 3 runs, then the worst wait of a normal request while 50 idle
# + 10 one-byte-a-second clients are connected, then 200 + 40 (10 s = gave up):
#   sync                  617-890 req/s   10 s             10 s
#   gthread,  8 threads   998-1194        10 s             10 s
#   gthread, 32 threads   846-1198        0.02-5.04 s      10 s
#   gthread, 64 threads  1031-1198        0.01-0.15 s      4.9-10 s
#   gevent                796-831         0.01-0.04 s      0.01-0.03 s
# gthread passes only while slow connections number fewer than its threads (64 threads
# pass 50 + 10 because 60 < 64); gevent is not stalled by any of these. It costs about a
# quarter of gthread's req/s here, and its p99 is less steady (91-370 ms against 55-118).
# Behind a router that buffers whole requests, where no slow client reaches gunicorn,
# GUNICORN_CMD_ARGS="-k gthread --threads 8" gives the req/s back. The app is safe under
# gevent: psycopg and redis-py wait through gevent's patched sockets, the render cache's
# locks are patched threading locks. serving/web_worker.py is gunicorn's gevent worker, which
# on SIGTERM resets no request it has received: the stock one reset 29 of 4,200 requests
# in 3 stops under 32 keep-alive clients that reconnect (tests/test_web_stop.py), this none.
worker_class = "serving.web_worker.GeventWorker"
accesslog = "-"
errorlog = "-"
loglevel = settings["LOG_LEVEL"].lower()
logger_class = "serving.access_log.JSONAccessLogger"
# A PaaS router gives a stopping process about 30 s: finish what is in flight within that.
graceful_timeout = 25
timeout = 30
keepalive = 5
forwarded_allow_ips = settings["FORWARDED_ALLOW_IPS"]
# No --preload: the app opens database and Redis pools in create_app, and connections
# made before the fork would be shared by every worker. Each worker builds its own.
preload_app = False
# gunicorn's default control socket is one path per user: every instance on a host
# would bind the same file, and the first to stop would unlink it under the others.
# One per address instead (only one instance can listen on it), in gunicorn's folder.
control_socket = os.path.join(os.path.dirname(ControlSocket.default), f"storyfeed-{host}-{port}.ctl")

# /metrics sums what every worker counted: prometheus_client's multiprocess mode, each
# worker writing to files in this folder. It reads the variable when a worker imports it
# (no --preload: after this file), and the master empties the folder at start (its
# `*.db` files), so that a restarted instance does not add up the counts of the last
# one. One per address, as the control socket: two instances sharing it would empty
# each other's.
metrics_dir = settings["METRICS_DIR"] or os.path.join(tempfile.gettempdir(), f"storyfeed-metrics-{host}-{port}")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir

# A client that stops sending (a body shorter than its Content-Length) or stops reading
# is given up after this many seconds without a byte: the app sees the body end early
# and answers 400 (werkzeug's ClientDisconnected), then the connection is closed, where
# otherwise the request would wait for ever. (Headers are bounded by `keepalive`.)
CLIENT_SILENCE_SECONDS = 10


def remove_metrics_files():
    # Only prometheus_client's files: the folder may be one the operator named.
    for path in glob.glob(os.path.join(metrics_dir, "*.db")):
        os.remove(path)


def on_starting(server):
    os.makedirs(metrics_dir, exist_ok=True)
    remove_metrics_files()


def on_exit(server):
    # Nothing reads them once the instance is gone (the next start would empty them).
    remove_metrics_files()
    try:
        os.rmdir(metrics_dir)
    except OSError:
        pass  # not empty: the operator keeps something else there


def child_exit(server, worker):
    # A dead worker's counts stay in the sums (counters never go down); only its live
    # gauges are dropped.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, metrics_dir)


def pre_request(worker, req):
    sock = getattr(req.unreader, "sock", None)  # None on an HTTP/2 stream
    if sock is not None:
        sock.settimeout(CLIENT_SILENCE_SECONDS)


def post_request(worker, req, environ, resp):
    # A gevent worker reads a kept-alive connection's next request as soon as it has
    # answered the last, ahead of requests already waiting on its other connections:
    # under load a few busy clients are served while the rest wait (wrk -c16, 2 workers:
    # p50 3 ms but p99 1.0 s). Waiting until the event loop has nothing else to do serves
    # the connections in turn: p99 91 ms, for about 15% fewer req/s (gevent.sleep(0),
    # which does not wait for I/O, left p99 at 0.5 s).
    if worker.cfg.worker_class_str in ("gevent", worker_class):
        import gevent

        gevent.idle()
