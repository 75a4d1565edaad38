"""gunicorn settings from the environment (PaaS convention: PORT, WEB_CONCURRENCY)."""

import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# A PaaS router gives a shutting-down dyno about 30 s; finish requests within that.
graceful_timeout = 25
timeout = 30
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
