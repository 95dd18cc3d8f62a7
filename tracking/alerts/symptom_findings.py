"""The rules about the skin itself: a worsening flare, a concerning skin check.

Pure: each rule takes the context and the readings tracking/alerts/selectors.py gathered for it,
and returns a `Finding` or None.
"""

from __future__ import annotations

import contextlib
import datetime
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tracking import rules
from tracking.alerts.findings import (
    SKIN_CHECK_EPISODE,
    AlertContext,
    Finding,
    Reading,
    flare_words,
    iso,
    poem_words,
    short,
)
from tracking.models import AlertKind, AlertSeverity, PerformedBy

# --- Worsening flare ---------------------------------------------------------------------------------

# (recorded_at, created_at, score, band) of a scored POEM.
ScoredPoem = tuple[datetime.datetime, datetime.datetime, int, str]


@dataclass(frozen=True)
class WorseningReadings:
    # Flare severity from `worsening_window` before the window's first day to today, oldest first.
    flare_severity: list[Reading]
    # The two latest scored POEMs, newest first.
    latest_poems: list[ScoredPoem]


def worsening_first(context: AlertContext) -> datetime.date:
    """The first local day of the worsening-flare window, which ends today."""
    return context.today - datetime.timedelta(days=context.thresholds.worsening_window_days - 1)


def worsening_window(context: AlertContext) -> datetime.timedelta:
    """How far back a reading is the reference for a rise (24-hour days)."""
    return datetime.timedelta(days=context.thresholds.worsening_window_days)


def worsening_flare(context: AlertContext, readings: WorseningReadings) -> Finding | None:
    """Flare severity up by the minimum rise within the window, or the POEM band up.

    - Flare severity: a reading of the last `worsening_window_days` local days, stored after the last
      resolution of this kind, at least `worsening_min_rise` above the lowest reading of the
      `worsening_window_days` (as 24-hour days) before it. Readings stored before the last alert of
      this kind opened are not a reference: the rise from them was raised already.
    - POEM: the latest scored POEM, in the window and stored after the last resolution, in a higher
      band than the POEM before it.
    """
    first = worsening_first(context)
    evidence: dict[str, Any] = {}
    words: list[str] = []

    rise = _flare_rise(context, readings.flare_severity, first)
    if rise is not None:
        lowest, risen = rise
        lowest_date, risen_date = (context.clock.local_date(r.recorded_at) for r in (lowest, risen))
        evidence["flare_severity"] = {
            "from": lowest.value,
            "from_date": iso(lowest_date),
            "to": risen.value,
            "to_date": iso(risen_date),
        }
        words.append(
            f"Flare severity rose from {flare_words(lowest.value)} on {iso(lowest_date)} "
            f"to {flare_words(risen.value)} on {iso(risen_date)}"
        )

    if len(readings.latest_poems) == 2:
        (latest_at, latest_created, latest_score, latest_band), (previous_at, _, previous_score, previous_band) = (
            readings.latest_poems
        )
        latest_date = context.clock.local_date(latest_at)
        if (
            first <= latest_date <= context.today
            and context.is_fresh(AlertKind.WORSENING_FLARE, latest_created)
            and rules.poem_band_rank(latest_band) > rules.poem_band_rank(previous_band)
        ):
            evidence["poem"] = {
                "from": previous_score,
                "from_band": previous_band,
                "from_date": iso(context.clock.local_date(previous_at)),
                "to": latest_score,
                "to_band": latest_band,
                "to_date": iso(latest_date),
            }
            words.append(
                f"POEM went from {previous_score} ({poem_words(previous_band)}) to {latest_score} "
                f"({poem_words(latest_band)}) on {iso(latest_date)}"
            )

    if not evidence:
        return None
    return Finding(
        kind=AlertKind.WORSENING_FLARE,
        severity=AlertSeverity.HIGH,
        summary=short("; ".join(words) + "."),
        evidence=evidence,
    )


def _flare_rise(context: AlertContext, readings: list[Reading], first: datetime.date) -> tuple[Reading, Reading] | None:
    """The newest qualifying (lowest reference, risen reading) pair, or None."""
    past = context.past(AlertKind.WORSENING_FLARE)
    window = worsening_window(context)
    references = [
        reading for reading in readings if past.last_opened_at is None or reading.created_at > past.last_opened_at
    ]
    for risen in reversed(readings):
        if not first <= context.clock.local_date(risen.recorded_at) <= context.today:
            continue
        if not context.is_fresh(AlertKind.WORSENING_FLARE, risen.created_at):
            continue
        before = [r for r in references if risen.recorded_at - window <= r.recorded_at < risen.recorded_at]
        lowest = min(before, key=lambda reading: reading.value, default=None)
        if lowest is not None and risen.value - lowest.value >= context.thresholds.worsening_min_rise:
            return lowest, risen
    return None


# --- Concerning skin check ---------------------------------------------------------------------------

# (id, performed_at, performed_by) of a concerning skin check.
ConcerningCheck = tuple[uuid.UUID, datetime.datetime, str]


def concerning_skin_check(context: AlertContext, checks: list[ConcerningCheck]) -> Finding | None:
    """The newest skin check marked concerning that no skin-check alert has shown the care team yet.

    `checks` are those no alert names, newest first (`named_check_ids`). Other such checks are
    listed in its evidence; they open no alerts of their own. A check counts as shown once an
    alert is about it or lists it: a check stored after the last resolution is new by definition,
    and so is one stored while an alert was open but resolved before an evaluation could list it
    (the clinician never saw it).
    """
    if not checks:
        return None
    (check_id, performed_at, performed_by), others = checks[0], checks[1:]
    performed_on = context.clock.local_date(performed_at)
    who = "A clinician" if performed_by == PerformedBy.CLINICIAN else "The patient or a caregiver"
    more = f" ({len(others)} earlier concerning check(s) not reviewed yet.)" if others else ""
    return Finding(
        kind=AlertKind.CONCERNING_SKIN_CHECK,
        severity=AlertSeverity.HIGH,
        summary=short(f"{who} marked the skin check of {iso(performed_on)} as concerning.{more}"),
        evidence={
            "skin_check_id": str(check_id),
            "performed_on": iso(performed_on),
            "performed_by": performed_by,
            "other_skin_check_ids": [str(other_id) for other_id, _, _ in others],
        },
        episode_key=f"{SKIN_CHECK_EPISODE}{check_id}",
    )


UrgentCheck = tuple[uuid.UUID, datetime.datetime, str, list[str]]


def urgent_skin_signs(context: AlertContext, checks: list[UrgentCheck]) -> Finding | None:
    """The newest skin check reporting an urgent sign (rules.skin_check_urgent_signs) that no urgent
    alert has shown the care team yet; the clinicians are told at once (tracking.models.IMMEDIATE_ALERT_KINDS).

    Episodes as for a concerning check: one alert per check; others unshown are listed in its evidence,
    and those logged while it is open are added to it (services._list_later_skin_checks).
    """
    if not checks:
        return None
    (check_id, performed_at, performed_by, signs), others = checks[0], checks[1:]
    performed_on = context.clock.local_date(performed_at)
    who = "A clinician" if performed_by == PerformedBy.CLINICIAN else "The patient or a caregiver"
    words = " and ".join(rules.URGENT_SKIN_SIGN_WORDS[sign] for sign in signs if sign in rules.URGENT_SKIN_SIGN_WORDS)
    more = f" ({len(others)} earlier urgent check(s) not reviewed yet.)" if others else ""
    return Finding(
        kind=AlertKind.URGENT_SKIN_SIGNS,
        severity=AlertSeverity.HIGH,
        summary=short(
            f"{who} reported {words} in the skin check of {iso(performed_on)}: same-day care needed "
            f"(suspected eczema herpeticum or skin infection, NICE CG57); told to seek medical care today.{more}"
        ),
        evidence={
            "skin_check_id": str(check_id),
            "performed_on": iso(performed_on),
            "performed_by": performed_by,
            "urgent_signs": list(signs),
            "other_skin_check_ids": [str(other[0]) for other in others],
        },
        episode_key=f"{SKIN_CHECK_EPISODE}{check_id}",
    )


def named_check_ids(alerts: Iterable[tuple[str, Any]]) -> set[uuid.UUID]:
    """The skin checks that skin-check alerts, given as (episode_key, evidence), are about or list."""
    shown: set[uuid.UUID] = set()
    for episode_key, evidence in alerts:
        for check_id in [
            episode_key.removeprefix(SKIN_CHECK_EPISODE),
            *(evidence or {}).get("other_skin_check_ids", []),
        ]:
            with contextlib.suppress(ValueError):
                shown.add(uuid.UUID(check_id))
    return shown
