"""gunicorn's access log as one JSON object per line, so a PaaS log drain can parse it.

gunicorn's own format strings don't escape quotes in paths or user agents; json does.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from gunicorn.glogging import Logger

# Statuses whose responses carry no body, whatever Content-Length says.
NO_BODY_STATUSES = (204, 304)


def body_bytes(resp: Any, req: Any) -> int:
    """The body bytes sent.

    gunicorn counts what passes through `write()`; a file sent with sendfile(2) (a full
    200 download of a media file) is not counted and showed as 0. gunicorn's sendfile
    sends the whole Content-Length or raises, so when nothing was counted for a response
    that has a body, Content-Length is what went out (or what was going out when the
    client left: the one case this overstates).
    """
    sent = getattr(resp, "sent", 0) or 0
    length = getattr(resp, "response_length", None)
    if (sent == 0 and length and getattr(resp, "headers_sent", False)
            and req.method != "HEAD" and (resp.status_code or 0) >= 200
            and resp.status_code not in NO_BODY_STATUSES):
        return int(length)
    return sent


class JSONAccessLogger(Logger):  # type: ignore[misc]  # gunicorn ships no types
    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> None:
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
            "bytes": body_bytes(resp, req),
            "duration_ms": round(request_time.total_seconds() * 1000, 2),
            "user_agent": atoms["a"],
            "request_id": environ.get("HTTP_X_REQUEST_ID"),
            "pid": atoms["p"].strip("<>"),
        }
        self.access_log.info(json.dumps(record, ensure_ascii=False))
