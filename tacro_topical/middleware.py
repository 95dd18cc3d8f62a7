"""Project middleware: a database that is down answers 503 with Retry-After, never a 500; answers
that may carry patient data are never stored by a browser or a proxy."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext

logger = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5


class DatabaseUnavailableMiddleware:
    """Turn a lost or refused database connection into 503 + Retry-After, so clients retry.

    Django drops a broken connection at the end of the request (CONN_HEALTH_CHECKS and
    close_if_unusable_or_obsolete), so the service recovers by itself once the database is back.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        # The class only: a driver's message can quote the statement, and with it a patient's data.
        logger.warning("database unavailable: %s on %s %s", type(exception).__name__, request.method, request.path)
        message = gettext("The service is briefly unavailable. Retry after a few seconds; nothing you sent was lost.")
        if request.path_info.startswith("/api/"):
            response: HttpResponse = JsonResponse({"detail": message}, status=503)
        else:
            response = HttpResponse(message, status=503, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response


# Every API answer and every admin page may hold a patient's data (the admin's review pages and exports
# are under /admin/ too). Errors and redirects included: one rule is easier to trust than a list.
PRIVATE_PATH_PREFIXES = ("/api/", "/admin/")


class NoStoreMiddleware:
    """`Cache-Control: no-store` (and `Pragma: no-cache`, for HTTP/1.0 proxies) on patient data.

    A shared computer's browser cache, its back button, or a caching proxy must not keep a patient's
    record. Django's admin already marks its own views never-cache; this covers everything else under
    /api/ and /admin/, with the same header, whatever the view set: the schema, errors, 503s, redirects.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path_info.startswith(PRIVATE_PATH_PREFIXES):
            # The view's own Cache-Control may say max-age; nothing here may be kept, so ours replaces it.
            if "Cache-Control" in response:
                del response["Cache-Control"]
            add_never_cache_headers(response)
            response["Pragma"] = "no-cache"
        return response
