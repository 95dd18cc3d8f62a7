"""tacro_topical.client_address: the one answer to "which address is this client", for the throttles and the
sign-in lockout, set by NUM_PROXIES."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient
from rest_framework.views import APIView

from tacro_topical.client_address import client_address
from tacro_topical.throttles import ClientAddressThrottle

FACTORY = RequestFactory()


def address(num_proxies: int, settings: Any, **meta: str) -> str | None:
    settings.NUM_PROXIES = num_proxies
    return client_address(FACTORY.get("/", **meta))


def test_without_proxies_x_forwarded_for_is_ignored(settings: Any) -> None:
    assert address(0, settings, REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="203.0.113.9") == "192.0.2.1"


def test_the_default_is_no_proxies() -> None:
    from tacro_topical import settings as project_settings

    assert project_settings.NUM_PROXIES == 0


@pytest.mark.parametrize(
    ("num_proxies", "forwarded_for", "expected"),
    [
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "198.51.100.1, 203.0.113.9", "203.0.113.9"),  # what the client wrote is left of our proxy's entry
        (2, "198.51.100.1, 203.0.113.9, 10.0.0.7", "203.0.113.9"),
        (2, "203.0.113.9,10.0.0.7", "203.0.113.9"),
        (1, " 2001:DB8::1 ", "2001:db8::1"),
    ],
    ids=["one-proxy", "one-proxy-forged-entry", "two-proxies", "two-proxies-no-spaces", "ipv6"],
)
def test_behind_proxies_the_entry_the_outermost_one_appended_is_the_client(
    num_proxies: int, forwarded_for: str, expected: str, settings: Any
) -> None:
    found = address(num_proxies, settings, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded_for)

    assert found == expected


@pytest.mark.parametrize(
    ("num_proxies", "meta"),
    [
        (1, {}),
        (2, {"HTTP_X_FORWARDED_FOR": "203.0.113.9"}),
        (1, {"HTTP_X_FORWARDED_FOR": "203.0.113.9, not-an-address"}),
        (1, {"HTTP_X_FORWARDED_FOR": "203.0.113.9, "}),
    ],
    ids=["no-header", "fewer-entries-than-proxies", "not-an-address", "empty-entry"],
)
def test_behind_proxies_a_missing_or_unusable_header_falls_back_to_remote_addr(
    num_proxies: int, meta: dict[str, str], settings: Any
) -> None:
    assert address(num_proxies, settings, REMOTE_ADDR="10.0.0.2", **meta) == "10.0.0.2"


def test_no_usable_address_at_all_is_none(settings: Any) -> None:
    assert address(0, settings, REMOTE_ADDR="") is None


def api_views() -> list[type[APIView]]:
    """Every DRF view the URLconf routes to."""
    found: list[type[APIView]] = []

    def walk(patterns: list[Any]) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns)
            elif isinstance(pattern, URLPattern):
                view_class = getattr(pattern.callback, "cls", None)
                if isinstance(view_class, type) and issubclass(view_class, APIView):
                    found.append(view_class)

    walk(get_resolver().url_patterns)
    return found


def test_every_throttle_of_every_api_view_knows_clients_by_client_address() -> None:
    """DRF's own throttles read X-Forwarded-For themselves; ours go through the one function."""
    views = api_views()
    strays = {
        f"{view.__name__}: {throttle.__module__}.{throttle.__qualname__}"
        for view in views
        for throttle in view.throttle_classes
        if not issubclass(throttle, ClientAddressThrottle)
    }

    assert len(views) > 20
    assert not strays


@pytest.mark.parametrize(
    ("remote", "counted_as"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
    ],
)
def test_throttles_count_an_ipv6_client_by_its_64(settings: Any, remote: str, counted_as: str) -> None:
    # Review of #22: one /64 holds 2**64 addresses, each of which had a throttle bucket of its own.
    settings.NUM_PROXIES = 0

    assert ClientAddressThrottle().get_ident(FACTORY.get("/", REMOTE_ADDR=remote)) == counted_as


@pytest.mark.django_db
def test_sign_ups_from_one_ipv6_64_share_one_throttle(settings: Any) -> None:
    settings.NUM_PROXIES = 0
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "auth": "3/minute"},
    }
    statuses = [
        APIClient()
        .post(
            "/api/v1/auth/password/reset/",
            {"email": "a@test.example"},
            format="json",
            REMOTE_ADDR=f"2001:db8:1:2::{number}",
        )
        .status_code
        for number in range(1, 6)
    ]

    assert statuses == [202, 202, 202, 429, 429]


@pytest.mark.django_db
def test_the_auth_throttle_holds_under_a_script_prefix(settings: Any) -> None:
    # Review of #22: the throttles read request.path, which carries the prefix of a site served under a
    # sub-path (SCRIPT_NAME), so /tacro/api/v1/auth/... was never counted. They read path_info now.
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "auth": "2/minute"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    statuses = [
        APIClient()
        .post("/api/v1/auth/password/reset/", {"email": "a@test.example"}, format="json", SCRIPT_NAME="/tacro")
        .status_code
        for _ in range(3)
    ]

    assert statuses == [202, 202, 429]
