"""GET /api/v1/push/vapid-public-key/ (issue #16): the key a browser subscribes to Web Push with.

Anyone may read it; it is the public half of the key pushes are signed with (WEBPUSH_VAPID_PRIVATE_KEY,
as base64url or a PEM file path), and a 404 with a `detail` where none is configured.
"""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.management import call_command
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from tests.tracking.peers import make_vapid_keys, read_vapid_authorization
from tracking.notifications.vapid import load_private_key

pytestmark = pytest.mark.django_db

URL = "/api/v1/push/vapid-public-key/"


def no_keys(settings: Settings) -> None:
    settings.WEBPUSH_VAPID_PRIVATE_KEY = ""
    settings.WEBPUSH_VAPID_PUBLIC_KEY = ""


def test_it_gives_the_public_half_of_the_signing_key_to_anyone(api_client: APIClient, settings: Settings) -> None:
    keys = make_vapid_keys()
    no_keys(settings)
    settings.WEBPUSH_VAPID_PRIVATE_KEY = keys.private_key

    response = api_client.get(URL)

    assert response.status_code == 200
    assert response.json() == {"public_key": keys.public_key}
    point = base64.urlsafe_b64decode(keys.public_key + "=" * (-len(keys.public_key) % 4))
    assert len(point) == 65  # uncompressed P-256: what applicationServerKey takes
    assert point[0] == 4
    assert "=" not in response.json()["public_key"]


def test_a_push_signed_with_the_private_key_verifies_with_the_key_it_gives(
    api_client: APIClient, settings: Settings, tmp_path: Path
) -> None:
    keys = make_vapid_keys()
    key_file = tmp_path / "vapid.pem"
    key_file.write_bytes(keys.private_pem)
    no_keys(settings)
    settings.WEBPUSH_VAPID_PRIVATE_KEY = str(key_file)  # a file path, as `make run` sets it

    public_key = api_client.get(URL).json()["public_key"]

    assert public_key == keys.public_key
    # Signed the way the Web Push transport signs (py_vapid), verified as a push service would.
    from py_vapid import Vapid  # type: ignore[import-untyped]

    signer = Vapid(load_private_key(str(key_file)))
    exp = int(time.time()) + 600
    headers = signer.sign({"sub": "mailto:care-team@localhost", "aud": "https://fcm.googleapis.com", "exp": exp})
    claims = read_vapid_authorization(headers["Authorization"], public_key)
    assert claims["aud"] == "https://fcm.googleapis.com"


def test_the_private_key_wins_over_a_configured_public_key(api_client: APIClient, settings: Settings) -> None:
    signing, other = make_vapid_keys(), make_vapid_keys()
    settings.WEBPUSH_VAPID_PRIVATE_KEY = signing.private_key
    settings.WEBPUSH_VAPID_PUBLIC_KEY = other.public_key

    assert api_client.get(URL).json() == {"public_key": signing.public_key}


def test_a_public_key_alone_is_given_as_configured(api_client: APIClient, settings: Settings) -> None:
    keys = make_vapid_keys()
    no_keys(settings)
    settings.WEBPUSH_VAPID_PUBLIC_KEY = keys.public_key + "="  # padded: given back without

    assert api_client.get(URL).json() == {"public_key": keys.public_key}


def test_without_a_key_it_is_a_404_that_says_so(api_client: APIClient, settings: Settings) -> None:
    no_keys(settings)

    response = api_client.get(URL)

    assert response.status_code == 404
    assert response.json() == {"detail": "Web Push is not configured on this server: no VAPID key is set."}


@pytest.mark.parametrize("configured", ["not-a-key", "/nonexistent/vapid.pem"])
def test_an_unreadable_key_is_a_404_and_no_file_is_made(
    api_client: APIClient, settings: Settings, configured: str
) -> None:
    no_keys(settings)
    settings.WEBPUSH_VAPID_PRIVATE_KEY = configured

    response = api_client.get(URL)

    assert response.status_code == 404
    assert response.json() == {"detail": "Web Push is not available on this server: its VAPID key cannot be read."}
    assert not Path("/nonexistent/vapid.pem").exists()  # py_vapid would have generated one there


def test_credentials_are_not_read(api_client: APIClient, settings: Settings) -> None:
    keys = make_vapid_keys()
    settings.WEBPUSH_VAPID_PRIVATE_KEY = keys.private_key
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    assert api_client.get(URL).status_code == 200


def test_the_schema_types_it_and_asks_for_no_token(tmp_path: Path) -> None:
    import yaml

    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--file", str(out), "--validate", "--fail-on-warn")
    operation = yaml.safe_load(out.read_text())["paths"][URL]["get"]

    assert operation["operationId"] == "push_vapid_public_key"
    assert operation["security"] == []
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ok == "#/components/schemas/VapidPublicKey"
    not_found = operation["responses"]["404"]["content"]["application/json"]["schema"]["$ref"]
    assert not_found == "#/components/schemas/Error"


def test_load_private_key_refuses_another_curve() -> None:
    import tempfile

    from cryptography.hazmat.primitives import serialization

    other = ec.generate_private_key(ec.SECP384R1())
    pem = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with tempfile.NamedTemporaryFile(suffix=".pem") as handle:
        handle.write(pem)
        handle.flush()
        with pytest.raises(ValueError, match="not a P-256 key"):
            load_private_key(handle.name)
