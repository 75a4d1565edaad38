"""gunicorn settings from the environment (PaaS convention: PORT, WEB_CONCURRENCY).

Read through the settings table (`serving/settings.py`), like the app's: the master
checks every setting before any worker starts, and stops with a line naming a bad one.
"""

import sys

from serving.settings import load_settings
from stories.errors import SettingsError

try:
    settings = load_settings(gunicorn=True)
except SettingsError as exc:
    sys.exit(f"storyfeed cannot start: {exc}")

bind = f"{settings['HOST']}:{settings['PORT']}"
workers = settings["WEB_CONCURRENCY"]
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
