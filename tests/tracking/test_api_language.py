"""Bad input is refused in the asker's language (issue #16): an Arabic speaker reads the API's own message
in Arabic (locale/ar), with none of its English left, from sign-in to sync; an English speaker reads it unchanged.

Each case sends one representative bad request across the API, as someone whose account and browser
(Accept-Language) are Arabic, and compares the body with the message the code raises, rendered in each language.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import time_machine
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext
from rest_framework.response import Response
from rest_framework.test import APIClient

from accounts import tokens
from accounts.models import Language, Patient
from tests.accounts.test_auth import REGISTER_URL, TOKEN_URL, patient_registration
from tests.personas import client_as
from tests.tracking.conftest import base
from tests.tracking.test_logs import application_body, poem_body, skin_check_body
from tracking import rules
from tracking.models import Regimen
from tracking.serializers.logs import ANSWER_OR_CONCERNING, POEM_ITEM_MESSAGE

NOW = datetime.datetime(2026, 11, 21, 9, 0, tzinfo=datetime.UTC)
AT = "2026-11-21T11:30:00+03:00"  # 08:30 UTC, before NOW
JOIN_URL = "/api/v1/care-team/join/"


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@dataclass(frozen=True)
class Case:
    """A bad request (`send(client, patient)`), its status, and the message the code answers with (`message()`,
    rendered in the active language)."""

    send: Callable[[APIClient, Patient], Response]
    status: int
    message: Callable[[], str]


def _correct_after_the_window(client: APIClient, patient: Patient) -> Response:
    body = application_body(at=AT)
    assert client.post(f"{base(patient)}applications/", body, format="json").status_code == 201
    with time_machine.travel(NOW + rules.LOG_CORRECTION_WINDOW + datetime.timedelta(hours=1), tick=False):
        later = client_as(patient.user)
        later.defaults.update(client.defaults)
        return later.patch(f"{base(patient)}applications/{body['id']}/", {"amount_ftu": 3}, format="json")


def _throttled_join(client: APIClient, patient: Patient) -> Response:
    allowed = int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["care_team_join"].split("/")[0])
    body = {"code": "GUESS000", "patient": str(patient.pk)}
    for _ in range(allowed):
        client.post(JOIN_URL, body, format="json")
    return client.post(JOIN_URL, body, format="json")


def _throttled_message() -> str:
    # DRF's own words (its locale/ar); the wait that follows them is checked with the rest of the body's prose.
    return str(gettext("Request was throttled."))


def _future_minutes() -> int:
    return int(rules.LOG_FUTURE_TOLERANCE.total_seconds() // 60)


CASES: dict[str, Case] = {
    "registration: a password too common": Case(
        lambda client, _patient: client.post(
            REGISTER_URL, patient_registration(password="password", language="ar"), format="json"
        ),
        400,
        lambda: gettext("This password is too common."),
    ),
    "registration: an unknown time zone": Case(
        lambda client, _patient: client.post(
            REGISTER_URL, patient_registration(timezone="Mars/Olympus", language="ar"), format="json"
        ),
        400,
        lambda: (
            gettext("Unknown time zone %(value)s: use an IANA name such as Europe/London or Asia/Qatar.")
            % {"value": repr("Mars/Olympus")}
        ),
    ),
    "sign-in refused": Case(
        lambda client, patient: client.post(
            TOKEN_URL, {"email": patient.user.email, "password": "not-her-password"}, format="json"
        ),
        401,
        lambda: str(tokens.SIGN_IN_REFUSED),
    ),
    "a regimen's time of day": Case(
        lambda client, patient: client.post(
            f"{base(patient)}regimens/",
            {
                "drug": "tacrolimus",
                "strength": "0.1",
                "body_areas": ["face"],
                "times": ["08:00", "25:00"],
                "start_date": "2026-11-21",
            },
            format="json",
        ),
        400,
        lambda: gettext('"{value}" is not a time of day; use "HH:MM" from 00:00 to 23:59.').format(value="25:00"),
    ),
    "a regimen's strength": Case(
        lambda client, patient: client.post(
            f"{base(patient)}regimens/",
            {
                "drug": "tacrolimus",
                "strength": "1",
                "body_areas": ["face"],
                "times": ["08:00", "20:00"],
                "start_date": "2026-11-21",
            },
            format="json",
        ),
        400,
        lambda: gettext("{drug} comes as {strengths}; {strength} is not a strength of it.").format(
            drug="tacrolimus", strengths=gettext(" or ").join(["0.03%", "0.1%"]), strength=repr("1")
        ),
    ),
    "a regimen's drug, not one of the choices": Case(
        lambda client, patient: client.post(
            f"{base(patient)}regimens/",
            {
                "drug": "aspirin",
                "strength": "0.1",
                "body_areas": ["face"],
                "times": ["08:00"],
                "start_date": "2026-11-21",
            },
            format="json",
        ),
        400,
        lambda: gettext('"{input}" is not allowed. Allowed values: {allowed}.').format(
            input="aspirin", allowed=", ".join(key for key, _label in Regimen._meta.get_field("drug").choices or [])
        ),
    ),
    "a log's time in the future": Case(
        lambda client, patient: client.post(
            f"{base(patient)}applications/", application_body(at="2026-11-21T13:00:00+03:00"), format="json"
        ),
        400,
        lambda: gettext(
            "This time is in the future. Log what has happened: at most {minutes} minutes ahead "
            "of the server's clock is accepted."
        ).format(minutes=_future_minutes()),
    ),
    "a correction after the window": Case(
        _correct_after_the_window,
        403,
        lambda: gettext(
            "A log can be corrected for {hours} hours after it was logged. After that, "
            "only its note can change: add a note saying what was different."
        ).format(hours=rules.LOG_CORRECTION_HOURS),
    ),
    "a POEM answer out of range": Case(
        lambda client, patient: client.post(
            f"{base(patient)}poem/", poem_body(at=AT, answers=[1, 2, 9, 3, 1, 0, 2]), format="json"
        ),
        400,
        lambda: str(POEM_ITEM_MESSAGE),
    ),
    "a skin check with no answer": Case(
        lambda client, patient: client.post(
            f"{base(patient)}skin-checks/",
            {key: value for key, value in skin_check_body(at=AT).items() if key != "concerning"},
            format="json",
        ),
        400,
        lambda: str(ANSWER_OR_CONCERNING),
    ),
    "a sync batch too large": Case(
        lambda client, patient: client.post(
            f"{base(patient)}sync/",
            {"applications": [application_body(at=AT) for _ in range(rules.SYNC_MAX_ITEMS + 1)]},
            format="json",
        ),
        400,
        lambda: gettext("At most {most} items per request ({total} sent); split the batch.").format(
            most=rules.SYNC_MAX_ITEMS, total=rules.SYNC_MAX_ITEMS + 1
        ),
    ),
    "a care-team join throttled": Case(_throttled_join, 429, _throttled_message),
}


ENGLISH_PROSE = re.compile(r"\b(the|is|are|was|and|for|your|this|not|with|from)\b", re.IGNORECASE)


def _messages(response: Response) -> str:
    """The body's messages, one a line: its values, not its keys (field paths such as `times[1]`)."""
    values = json.loads(response.content).values()
    return "\n".join(message for value in values for message in (value if isinstance(value, list) else [value]))


def _english_words(text: str) -> set[str]:
    """The prose words of a message: field names (snake_case), codes and example values are not prose."""
    return {word.lower() for word in re.findall(r"(?<![\w/.-])[A-Za-z]{4,}(?![\w/.-])", text)}


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_refused_in_arabic_for_an_arabic_speaker(regimen: Regimen, patient: Patient, name: str) -> None:
    case = CASES[name]
    patient.user.language = Language.ARABIC
    patient.user.save(update_fields=["language"])
    client = client_as(patient.user) if "sign-in" not in name and "registration" not in name else APIClient()
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "ar"

    response = case.send(client, patient)

    assert response.status_code == case.status, response.content
    body = _messages(response)
    with translation.override(Language.ARABIC):
        arabic = case.message()
    with translation.override(Language.ENGLISH):
        english = case.message()
    assert arabic != english
    assert re.search(r"[\u0600-\u06FF]{3,}", arabic), arabic
    assert arabic in body, body
    leftover = _english_words(english) - _english_words(arabic)
    assert not leftover & _english_words(body), (leftover & _english_words(body), body)
    # Nor any other English sentence (DRF's wait on a 429 included).
    assert not ENGLISH_PROSE.search(body), body


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(CASES))
def test_the_same_bad_input_is_refused_in_english_for_an_english_speaker(
    regimen: Regimen, patient: Patient, name: str
) -> None:
    case = CASES[name]
    client = client_as(patient.user) if "sign-in" not in name and "registration" not in name else APIClient()
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"

    response = case.send(client, patient)

    assert response.status_code == case.status, response.content
    with translation.override(Language.ENGLISH):
        english = case.message()
    assert english in _messages(response)
    assert not re.search(r"[\u0600-\u06FF]", response.content.decode())
