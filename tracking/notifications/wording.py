"""The words of a notification: title and body of an occurrence, from the texts in tracking/rules.py only."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from accounts.models import Condition, Patient
from tracking import rules
from tracking.models import Occurrence, Regimen, ScheduleKind
from tracking.notifications.selectors import estimated_empty_date
from tracking.reminders.services import FOLLOW_UP_KIND

CLE_CONDITIONS = frozenset({Condition.CLE_ACUTE, Condition.CLE_SUBACUTE, Condition.CLE_DISCOID, Condition.CLE_OTHER})


def human_list(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def area_names(codes: Iterable[str]) -> str:
    return human_list([code.replace("_", " ") for code in codes])


def wording(occurrence: Occurrence, regimen: Regimen | None, patient: Patient) -> tuple[str, str]:
    """Title and body of an occurrence, from the texts in tracking/rules.py only."""
    kind = occurrence.kind
    slot = occurrence.slot.split(" ")[0]
    if kind == ScheduleKind.DOSE and regimen is not None:
        title = rules.DOSE_REMINDER_TITLE.format(drug=regimen.drug, strength=regimen.strength)
        body = rules.DOSE_REMINDER_BODY.format(areas=area_names(regimen.body_areas))
    elif kind == FOLLOW_UP_KIND and regimen is not None:
        title = rules.MISSED_DOSE_TITLE.format(drug=regimen.drug, strength=regimen.strength)
        body = rules.MISSED_DOSE_BODY.format(slot=slot)
    elif kind == ScheduleKind.REFILL and regimen is not None:
        empty_date = estimated_empty_date(regimen, patient, occurrence.local_date)
        title = rules.REFILL_PROMPT_TITLE
        body = rules.REFILL_PROMPT_BODY.format(
            drug=regimen.drug, strength=regimen.strength, empty_date=empty_date or "soon"
        )
    elif kind == ScheduleKind.SKIN_CHECK:
        title = rules.SKIN_CHECK_PROMPT_TITLE
        body = rules.SKIN_CHECK_PROMPT_BODY.format(items="; ".join(rules.SKIN_CHECK_LIST))
    else:
        title, body = rules.POEM_PROMPT_TITLE, rules.POEM_PROMPT_BODY
    if patient.condition in CLE_CONDITIONS:
        body = f"{body} {rules.CLE_SUN_PROTECTION_ADVICE}"
    return title, f"{body} {rules.ASK_YOUR_DERMATOLOGIST}"
