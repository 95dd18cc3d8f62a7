"""The patient web app's three server-side answers: the app shell, its service worker and its manifest.

Everything else is static ES modules under /static/web/ (WhiteNoise). The service worker is served from
/app/sw.js, not /static/, so that its scope is /app/: a worker controls only the paths under its own.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

STATIC_DIR = Path(__file__).resolve().parent / "static" / "web"
WORKER_SOURCE = STATIC_DIR / "sw.js"
APP_SCOPE = "/app/"
# Files the worker keeps for offline use: the app itself, not the icon sources or anything else.
SHELL_SUFFIXES = (".js", ".css", ".json", ".svg", ".png")
NO_CACHE = "no-cache"  # the browser may keep it, but asks first: a new release is seen on the next visit


def static_url(relative: str) -> str:
    """The plain (unhashed) static URL of a file under web/static/web/.

    Plain names on purpose: the modules import each other by relative name (`./api.js`), which the
    manifest storage does not rewrite, so the shell, the imports and the worker's cache must agree on one
    name per file. WhiteNoise serves the plain names in production too (collectstatic keeps them).
    """
    return f"{settings.STATIC_URL}web/{relative}"  # Django gives STATIC_URL its leading slash


def shell_files() -> list[Path]:
    """The files the worker caches, in a stable order (the service worker's own source excluded)."""
    return sorted(
        path
        for path in STATIC_DIR.rglob("*")
        if path.is_file() and path.suffix in SHELL_SUFFIXES and path != WORKER_SOURCE
    )


def release_version() -> str:
    """A digest of every shell file and the worker: any change makes a new worker and a new cache."""
    digest = hashlib.sha256()
    for path in [*shell_files(), WORKER_SOURCE]:
        digest.update(path.relative_to(STATIC_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@require_safe
def app_shell(request: HttpRequest) -> HttpResponse:
    """The one HTML page; the rest is drawn by the modules. Routes live after the `#`, never sent here."""
    response = render(
        request,
        "web/index.html",
        {
            "app_js": static_url("app.js"),
            "app_css": static_url("app.css"),
            "icon": static_url("icons/icon.svg"),
            "touch_icon": static_url("icons/icon-192.png"),
        },
    )
    response["Cache-Control"] = NO_CACHE
    return response


@require_safe
def service_worker(request: HttpRequest) -> HttpResponse:
    """sw.js with the release's version and the list of files to keep, computed from the files themselves."""
    urls = [APP_SCOPE, *(static_url(path.relative_to(STATIC_DIR).as_posix()) for path in shell_files())]
    header = f"const RELEASE = {json.dumps(release_version())};\nconst SHELL = {json.dumps(urls)};\n"
    response = HttpResponse(
        header + WORKER_SOURCE.read_text(encoding="utf-8"), content_type="text/javascript; charset=utf-8"
    )
    response["Service-Worker-Allowed"] = APP_SCOPE
    response["Cache-Control"] = NO_CACHE
    return response


@require_safe
def manifest(request: HttpRequest) -> HttpResponse:
    """The PWA manifest: standalone, scoped to /app/, with the app's own icons."""
    body = {
        "name": "tacro-topical",
        "short_name": "tacro-topical",
        "description": "Log each application, burning, itch and flares; see how the treatment is going.",
        "id": APP_SCOPE,
        "start_url": f"{APP_SCOPE}#/today",
        "scope": APP_SCOPE,
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#0b5d6b",
        "icons": [
            {"src": static_url("icons/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static_url("icons/icon-512.png"), "sizes": "512x512", "type": "image/png"},
            {
                "src": static_url("icons/icon-maskable-512.png"),
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
            {"src": static_url("icons/icon.svg"), "sizes": "any", "type": "image/svg+xml"},
        ],
    }
    response = HttpResponse(json.dumps(body), content_type="application/manifest+json")
    response["Cache-Control"] = NO_CACHE
    return response
