"""gunicorn settings from the environment (PaaS convention: PORT, WEB_CONCURRENCY).

Anything else is overridden the way gunicorn reads after this file: GUNICORN_CMD_ARGS
(e.g. "--worker-connections 500") or the command line.
"""

import os

from gunicorn.config import ControlSocket

host = os.environ.get("HOST", "0.0.0.0")
port = os.environ.get("PORT", "8000")
bind = f"{host}:{port}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# gevent: one worker holds up to worker_connections (1,000) connections, and a request
# whose headers are not complete within `keepalive` seconds is dropped. A sync worker
# facing clients directly is held by one idle or slow connection (30 s, then killed); a
# gthread worker's thread is held 5 s by an idle connection and for as long as a slow one
# keeps trickling, so it stalls once slow connections outnumber its threads. `python -m
# bench.workers` (2 workers, warm feed; a normal request timed while 50 idle + 10
# one-byte-a-second clients are connected), on this 2-core machine under load:
#   sync              685 req/s, that request waited 30 s (timed out)
#   gthread,  8 thr   924 req/s, 15 s
#   gthread, 32 thr   888 req/s, 0.02-5.04 s (3 runs)
#   gthread, 64 thr   -          0.05-0.15 s, but 10 s with 200 idle + 40 slow
#   gevent            827 req/s, 0.01-0.04 s, and 0.03 s with 200 idle + 40 slow
# Throughput is the same within this machine's noise; only gevent is not stalled by a
# few dozen slow clients. The app is safe under it: psycopg and redis-py wait through
# gevent's patched sockets, the render cache's locks are patched threading locks.
worker_class = "gevent"
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
logger_class = "web.access_log.JSONAccessLogger"
# A PaaS router gives a stopping process about 30 s: finish what is in flight within that.
graceful_timeout = 25
timeout = 30
keepalive = 5
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# No --preload: the app opens database and Redis pools in create_app, and connections
# made before the fork would be shared by every worker. Each worker builds its own.
preload_app = False
# gunicorn's default control socket is one path per user: every instance on a host
# would bind the same file, and the first to stop would unlink it under the others.
# One per address instead (only one instance can listen on it), in gunicorn's folder.
control_socket = os.path.join(os.path.dirname(ControlSocket.default), f"storyfeed-{host}-{port}.ctl")

# A client that stops sending (a body shorter than its Content-Length) or stops reading
# is given up after this many seconds without a byte: the app sees the body end early
# and answers 400 (werkzeug's ClientDisconnected), then the connection is closed, where
# otherwise the request would wait for ever. (Headers are bounded by `keepalive`.)
CLIENT_SILENCE_SECONDS = 10


def pre_request(worker, req):
    sock = getattr(req.unreader, "sock", None)  # None on an HTTP/2 stream
    if sock is not None:
        sock.settimeout(CLIENT_SILENCE_SECONDS)
