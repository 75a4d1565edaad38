"""gunicorn settings from the environment (PaaS convention: PORT, WEB_CONCURRENCY)."""

import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
logger_class = "serving.access_log.JSONAccessLogger"
# A PaaS router gives a stopping process about 30 s: finish what is in flight within that.
graceful_timeout = 25
timeout = 30
keepalive = 5
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# No --preload: the app opens database and Redis pools in create_app, and connections
# made before the fork would be shared by every worker. Each worker builds its own.
preload_app = False
