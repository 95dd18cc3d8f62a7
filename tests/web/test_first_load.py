"""First load under 150 KB compressed (issue #16): everything a first visit to /app/ can fetch, gzipped.

The sum is an upper bound of what a phone downloads on a first visit: the shell page, the service worker and
the manifest as the server writes them, and every file the worker keeps for offline use (its SHELL list: every
module, both catalogues, the stylesheet and every icon), each gzipped at level 6 as a server compresses it
(the PNGs are already compressed and barely shrink). Print the figures with
`pytest tests/web/test_first_load.py -s` (web/README.md quotes them).
"""

from __future__ import annotations

import gzip

import pytest
from django.test import Client

from web.views import STATIC_DIR, shell_files

BUDGET_BYTES = 150 * 1024


def gzipped(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=6, mtime=0))


@pytest.mark.django_db
def test_the_first_load_is_under_150_kb_gzipped() -> None:
    client = Client()
    sizes: dict[str, tuple[int, int]] = {}
    for url in ("/app/", "/app/sw.js", "/app/manifest.webmanifest"):
        response = client.get(url)
        assert response.status_code == 200, url
        sizes[url] = (len(response.content), gzipped(response.content))
    for path in shell_files():
        data = path.read_bytes()
        sizes[path.relative_to(STATIC_DIR).as_posix()] = (len(data), gzipped(data))

    raw = sum(size for size, _ in sizes.values())
    compressed = sum(size for _, size in sizes.values())
    for name, (size, packed) in sorted(sizes.items(), key=lambda item: -item[1][1]):
        print(f"{packed:>8} {size:>8}  {name}")
    print(f"{compressed:>8} {raw:>8}  total: {compressed / 1024:.1f} KB gzipped ({raw / 1024:.1f} KB raw)")
    assert compressed < BUDGET_BYTES
