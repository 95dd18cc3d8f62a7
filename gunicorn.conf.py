"""gunicorn's settings for this project: read by itself when gunicorn starts in this folder (Procfile, README).

The access log keeps no query string and no referrer's query string. The admin's searches (`?q=`,
autocomplete's `?term=`) carry patient names and e-mail addresses, which the audit log already
redacts; an access log line is read by more people and kept longer, so it must not keep them either.
Started elsewhere, pass `--config /path/to/gunicorn.conf.py`.
"""

from __future__ import annotations

import datetime
from typing import Any

from gunicorn.glogging import Logger  # type: ignore[import-untyped]


def without_query(url: str) -> str:
    return url.split("?", 1)[0]


class AccessLogWithoutQueries(Logger):
    """gunicorn's logger, whose access-log fields carry paths without their query strings.

    Whatever `access_log_format` says: `%(r)s` (the request line) and `%(U)s` (the path) hold the path as
    sent, still percent-encoded, so a `%0A` in it cannot start a forged log line (gunicorn's own `%(U)s` is
    decoded); `%(q)s` is "-"; `%(f)s`, the referrer, loses its query too (the page before was a search).
    """

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: datetime.timedelta) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        path = without_query(environ.get("RAW_URI", "")) or "-"
        atoms["r"] = f"{environ.get('REQUEST_METHOD')} {path} {environ.get('SERVER_PROTOCOL')}"
        atoms["U"] = path
        atoms["q"] = "-"
        atoms["f"] = without_query(environ.get("HTTP_REFERER", "-"))
        # Per-header atoms (`%({referer}i)s`) and the environment's (`%({query_string}e)s`) would carry them too.
        atoms["{referer}i"] = atoms["f"]
        for name in ("{query_string}e", "{raw_uri}e", "{request_uri}e", "{http_referer}e"):
            atoms.pop(name, None)
        return atoms


logger_class = AccessLogWithoutQueries
