"""The web app's server side (issue #16): the shell at /app/, its service worker and manifest, under the CSP."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from django.test import Client

from web.views import STATIC_DIR

pytestmark = pytest.mark.django_db


class ScriptFinder(HTMLParser):
    """Every <script> with its attributes and text, and every inline event handler attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.inline_handlers: list[str] = []
        self.inline_text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.inline_handlers += [f"{tag}[{name}]" for name, _ in attrs if name.lower().startswith("on")]
        if tag == "script":
            self.scripts.append(dict(attrs))
            self._in_script = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_text.append(data)


def test_the_shell_answers_under_the_strict_csp_with_no_inline_script(client: Client) -> None:
    response = client.get("/app/")

    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "'unsafe-inline'" not in re.search(r"script-src[^;]*", csp).group(0)
    assert "connect-src 'self'" in csp
    page = ScriptFinder()
    page.feed(response.content.decode())
    assert page.scripts == [{"type": "module", "src": "/static/web/app.js"}]
    assert page.inline_text == []
    assert page.inline_handlers == []
    assert b'<link rel="manifest" href="/app/manifest.webmanifest">' in response.content
    assert response["Cache-Control"] == "no-cache"


def test_the_service_worker_is_scoped_to_the_app_and_lists_the_shell(client: Client) -> None:
    response = client.get("/app/sw.js")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == "/app/"
    assert response["Cache-Control"] == "no-cache"
    body = response.content.decode()
    shell = json.loads(re.search(r"^const SHELL = (.*);$", body, re.MULTILINE).group(1))
    assert "/app/" in shell
    assert {"/static/web/app.js", "/static/web/app.css", "/static/web/i18n/ar.json"} <= set(shell)
    for url in shell[1:]:
        assert (STATIC_DIR / url.removeprefix("/static/web/")).is_file(), url
        assert client.get(url).status_code == 200, url


def test_a_changed_file_makes_a_new_release(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    from web import views

    first = client.get("/app/sw.js").content
    original = views.Path.read_bytes
    monkeypatch.setattr(
        views.Path,
        "read_bytes",
        lambda path: original(path) + (b"changed" if path.name == "app.css" else b""),
    )

    assert client.get("/app/sw.js").content != first


def test_the_manifest_installs_a_standalone_app_on_its_own_icons(client: Client) -> None:
    response = client.get("/app/manifest.webmanifest")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    manifest = json.loads(response.content)
    assert manifest["display"] == "standalone"
    assert manifest["scope"] == "/app/"
    assert manifest["start_url"].startswith("/app/")
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        assert client.get(icon["src"]).status_code == 200


def test_every_message_has_its_arabic_and_english_text() -> None:
    english = json.loads((STATIC_DIR / "i18n" / "en.json").read_text(encoding="utf-8"))
    arabic = json.loads((STATIC_DIR / "i18n" / "ar.json").read_text(encoding="utf-8"))
    plural = re.compile(r"\.(zero|one|two|few|many|other)$")

    assert {plural.sub("", key) for key in english} == {plural.sub("", key) for key in arabic}
    assert all(value.strip() for value in [*english.values(), *arabic.values()])


def test_the_app_asks_no_other_host_for_anything() -> None:
    sources = [path for path in STATIC_DIR.rglob("*") if path.suffix in {".js", ".css", ".json"}]
    foreign = [str(path) for path in sources if re.search(r"https?://", path.read_text(encoding="utf-8"))]

    assert foreign == [path for path in foreign if path.endswith("dom.js")]  # the SVG namespace name only
