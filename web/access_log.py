"""gunicorn's access log as one JSON object per line, so a PaaS log drain can parse it.

gunicorn's own format strings don't escape quotes in paths or user agents; json does.
"""

from __future__ import annotations

import json

from gunicorn.glogging import Logger


class JSONAccessLogger(Logger):
    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        record = {
            "time": atoms["t"].strip("[]"),
            "remote": atoms["h"],
            "method": atoms["m"],
            "path": atoms["U"],
            "query": atoms["q"],
            "status": int(atoms["s"]),
            "bytes": atoms["B"],
            "duration_ms": round(request_time.total_seconds() * 1000, 2),
            "user_agent": atoms["a"],
            "request_id": environ.get("HTTP_X_REQUEST_ID"),
            "pid": atoms["p"].strip("<>"),
        }
        self.access_log.info(json.dumps(record, ensure_ascii=False))
