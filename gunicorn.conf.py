"""gunicorn settings from the environment (PaaS convention: PORT, WEB_CONCURRENCY)."""

import os

from gunicorn.config import ControlSocket

host = os.environ.get("HOST", "0.0.0.0")
port = os.environ.get("PORT", "8000")
bind = f"{host}:{port}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
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
