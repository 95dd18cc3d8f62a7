"""The words of a notification: title and body of an occurrence, from the texts in tracking/rules.py only.

They are written in the recipient's language (User.language; a caregiver reads a child's reminders in their
own), through Django's translations (locale/ar/LC_MESSAGES/django.po). A title and a body can show on a
lock screen, so neither names the drug or its strength: "your treatment", and the app shows the regimen.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Sequence

from django.utils import translation
from django.utils.formats import date_format
from django.utils.translation import gettext, gettext_noop, pgettext, pgettext_lazy

from accounts.models import Condition, Language, Patient
from tracking import rules
from tracking.models import Occurrence, Regimen, ScheduleKind
from tracking.notifications.selectors import estimated_empty_date
from tracking.reminders.services import FOLLOW_UP_KIND

CLE_CONDITIONS = frozenset({Condition.CLE_ACUTE, Condition.CLE_SUBACUTE, Condition.CLE_DISCOID, Condition.CLE_OTHER})

# The body areas of rules.BODY_AREAS in plain words, as the web app names them (web/static/web/i18n/).
AREA_NAMES = {
    "scalp": pgettext_lazy("body area", "scalp"),
    "face": pgettext_lazy("body area", "face"),
    "eyelids": pgettext_lazy("body area", "eyelids"),
    "neck": pgettext_lazy("body area", "neck"),
    "chest": pgettext_lazy("body area", "chest"),
    "abdomen": pgettext_lazy("body area", "tummy"),
    "upper_back": pgettext_lazy("body area", "upper back"),
    "lower_back": pgettext_lazy("body area", "lower back"),
    "arm_left": pgettext_lazy("body area", "left arm"),
    "arm_right": pgettext_lazy("body area", "right arm"),
    "hand_left": pgettext_lazy("body area", "left hand"),
    "hand_right": pgettext_lazy("body area", "right hand"),
    "genital": pgettext_lazy("body area", "genital area"),
    "leg_left": pgettext_lazy("body area", "left leg"),
    "leg_right": pgettext_lazy("body area", "right leg"),
    "foot_left": pgettext_lazy("body area", "left foot"),
    "foot_right": pgettext_lazy("body area", "right foot"),
}

# A caregiver's titles name the child; the patient's say "your".
_TITLES_FOR_CHILD = {
    rules.DOSE_REMINDER_TITLE: rules.DOSE_REMINDER_TITLE_CHILD,
    rules.MISSED_DOSE_TITLE: rules.MISSED_DOSE_TITLE_CHILD,
    rules.POEM_PROMPT_TITLE: rules.POEM_PROMPT_TITLE_CHILD,
    rules.REFILL_PROMPT_TITLE: rules.REFILL_PROMPT_TITLE_CHILD,
    rules.SKIN_CHECK_PROMPT_TITLE: rules.SKIN_CHECK_PROMPT_TITLE_CHILD,
}

# A caregiver's bodies speak of the child's skin and the child's dermatologist, never "your skin": the same
# texts as rules.py's, reworded for a parent (rules.py keeps the patient's; each body has its copy here).
_TEXTS_FOR_CHILD = {
    rules.DOSE_REMINDER_BODY: gettext_noop(
        "Apply a thin layer to {areas}, as {name}'s dermatologist prescribed, then log it."
    ),
    rules.MISSED_DOSE_BODY: gettext_noop(
        "The {slot} dose is not logged yet. If it was applied, log it; if not, follow the plan of {name}'s "
        "dermatologist."
    ),
    rules.POEM_PROMPT_BODY: gettext_noop(
        "Seven short questions about {name}'s skin over the past week. {name}'s dermatologist sees the score."
    ),
    rules.REFILL_PROMPT_BODY: gettext_noop(
        "At the amount you log, {name}'s tube may run out around {empty_date}. "
        "Ask {name}'s dermatologist or your pharmacy for a refill in time."
    ),
    rules.SKIN_CHECK_PROMPT_BODY: gettext_noop(
        "Look over {name}'s skin for: {items}. Log the check in the app; if anything concerns you, "
        "mark it so {name}'s dermatologist is told."
    ),
    rules.SKIN_CHECK_LIST[0]: gettext_noop(
        "anything new or changing on the skin, such as a mole or growth (rare skin cancers are reported on the label)"
    ),
    rules.CLE_SUN_PROTECTION_ADVICE: gettext_noop(
        "Protect {name}'s skin from the sun and other UV light, as {name}'s dermatologist advised: "
        "no sunlamps or tanning beds."
    ),
    rules.ASK_YOUR_DERMATOLOGIST: gettext_noop("Questions? Ask {name}'s dermatologist."),
}


def human_list(items: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c', in the active language."""
    if len(items) <= 1:
        return "".join(items)
    separator = pgettext("list separator", ", ")
    return gettext("{items} and {last}").format(items=separator.join(items[:-1]), last=items[-1])


def area_names(codes: Iterable[str]) -> str:
    return human_list([str(AREA_NAMES.get(code, code.replace("_", " "))) for code in codes])


def day_and_month(day: datetime.date) -> str:
    """'3 December' (or its Arabic), never an ISO date."""
    return date_format(day, "j F")


def wording(
    occurrence: Occurrence,
    regimen: Regimen | None,
    patient: Patient,
    *,
    language: str = Language.ENGLISH,
    child_name: str = "",
) -> tuple[str, str]:
    """Title and body of an occurrence in `language`, from the texts in tracking/rules.py only.

    `child_name` is for a caregiver's copy: the title names the child instead of saying "your".
    """
    with translation.override(language):
        say = _saying(child_name)
        title_text, body = _texts(occurrence, regimen, patient, say)
        if patient.condition in CLE_CONDITIONS:
            body = f"{body} {say(rules.CLE_SUN_PROTECTION_ADVICE)}"
        body = f"{body} {say(rules.ASK_YOUR_DERMATOLOGIST)}"
        title = gettext(_TITLES_FOR_CHILD[title_text]).format(name=child_name) if child_name else gettext(title_text)
    return title, body


def _saying(child_name: str) -> Callable[..., str]:
    """A text of rules.py in the active language, filled in: the patient's own, or a caregiver's about the child."""

    def say(text: str, **values: str) -> str:
        if child_name and text in _TEXTS_FOR_CHILD:
            return gettext(_TEXTS_FOR_CHILD[text]).format(name=child_name, **values)
        return gettext(text).format(**values) if values else gettext(text)

    return say


def _texts(
    occurrence: Occurrence, regimen: Regimen | None, patient: Patient, say: Callable[..., str]
) -> tuple[str, str]:
    """The untranslated title (a rules msgid) and the body in the active language."""
    kind = occurrence.kind
    slot = occurrence.slot.split(" ")[0]
    if kind == ScheduleKind.DOSE and regimen is not None:
        return rules.DOSE_REMINDER_TITLE, say(rules.DOSE_REMINDER_BODY, areas=area_names(regimen.body_areas))
    if kind == FOLLOW_UP_KIND and regimen is not None:
        return rules.MISSED_DOSE_TITLE, say(rules.MISSED_DOSE_BODY, slot=slot)
    if kind == ScheduleKind.REFILL and regimen is not None:
        empty_date = estimated_empty_date(regimen, patient, occurrence.local_date)
        when = day_and_month(empty_date) if empty_date else gettext(rules.REFILL_PROMPT_SOON)
        return rules.REFILL_PROMPT_TITLE, say(rules.REFILL_PROMPT_BODY, empty_date=when)
    if kind == ScheduleKind.SKIN_CHECK:
        items = pgettext("list separator", "; ").join(say(item) for item in rules.SKIN_CHECK_LIST)
        return rules.SKIN_CHECK_PROMPT_TITLE, say(rules.SKIN_CHECK_PROMPT_BODY, items=items)
    return rules.POEM_PROMPT_TITLE, say(rules.POEM_PROMPT_BODY)
