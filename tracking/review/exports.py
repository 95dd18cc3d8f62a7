"""The CSV export of a patient's logs, with each cell a spreadsheet would run as a formula made safe."""

from __future__ import annotations

import csv
import datetime
from collections.abc import Iterator
from typing import Any

from django.db.models import Q

from accounts.clock import PatientClock
from accounts.models import Patient
from tracking import rules
from tracking.models import Application, PoemEntry, SkinCheck, Symptom

EXPORT_COLUMNS = (
    "kind",
    "id",
    "time_utc",
    "local_time",
    "time_zone",
    "regimen",
    "body_areas",
    "amount_ftu",
    "burning",
    "itch",
    "flare_severity",
    "poem_score",
    "poem_band",
    "concerning",
    # The skin self-check's answers (yes, no, or empty when not answered) and its urgent signs.
    *rules.SKIN_CHECK_ANSWERS,
    "urgent_signs",
    "note",
)
YES_NO: dict[bool | None, str] = {True: "yes", False: "no"}
EXPORT_MAX_DAYS = 366
# The dates a clinician may ask for: a mistyped year gets a message naming the field.
EXPORT_EARLIEST, EXPORT_LATEST = datetime.date(1900, 1, 1), datetime.date(2100, 12, 31)


def export_range_problem(since: datetime.date | None, until: datetime.date | None) -> tuple[str | None, str] | None:
    """What is wrong with an export's dates, as (the field, or None for both, and why); None when nothing is."""
    for name, date in (("since", since), ("until", until)):
        if date and not EXPORT_EARLIEST <= date <= EXPORT_LATEST:
            return name, f"Choose a date from {EXPORT_EARLIEST} to {EXPORT_LATEST}."
    if since and until:
        if until < since:
            return None, "The end date is before the start date."
        if (until - since).days >= EXPORT_MAX_DAYS:
            return None, f"Export at most {EXPORT_MAX_DAYS} days at a time."
    return None


def export_filename(patient: Patient, *, first: datetime.date, last: datetime.date) -> str:
    return f"tacro-topical-{str(patient.pk)[:8]}-{first}-{last}.csv"


def export_write(out: Any, patient: Patient, *, first: datetime.date, last: datetime.date) -> None:
    """Write the export, header first, to a file-like `out`, each cell made safe for a spreadsheet."""
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    writer.writerows(csv_safe(row) for row in export_rows(patient, first=first, last=last))


def export_rows(patient: Patient, *, first: datetime.date, last: datetime.date) -> Iterator[list[str]]:
    """The patient's logs on local dates `first`..`last`, oldest first, one CSV row each.

    Each row has its UTC time and, in its own column, the local time with the zone the patient
    lived by then named beside it. Four queries.
    """
    clock = PatientClock.for_patient(patient)
    start, end = clock.day_bounds(first, last)
    kept = Q(patient=patient, deleted_at__isnull=True)
    rows: list[tuple[datetime.datetime, list[str]]] = []

    def add(moment: datetime.datetime, kind: str, entry_id: object, **values: object) -> None:
        local = clock.local(moment)
        if not first <= local.date() <= last:
            return
        cells = {
            "kind": kind,
            "id": str(entry_id),
            "time_utc": moment.astimezone(datetime.UTC).isoformat(),
            # With its offset: an hour repeated when clocks go back is told apart.
            "local_time": local.isoformat(),
            "time_zone": str(local.tzinfo),
        }
        cells |= {name: "" if value is None else str(value) for name, value in values.items()}
        rows.append((moment, [cells.get(column, "") for column in EXPORT_COLUMNS]))

    for application in Application.objects.filter(kept, applied_at__gte=start, applied_at__lt=end).select_related(
        "regimen"
    ):
        add(
            application.applied_at,
            "application",
            application.pk,
            regimen=str(application.regimen),
            body_areas=" ".join(application.body_areas),
            amount_ftu=application.amount_ftu,
            note=application.note,
        )
    for symptom in Symptom.objects.filter(kept, recorded_at__gte=start, recorded_at__lt=end):
        add(
            symptom.recorded_at,
            "symptoms",
            symptom.pk,
            body_areas=" ".join(symptom.body_areas),
            burning=symptom.burning,
            itch=symptom.itch,
            flare_severity=symptom.flare_severity,
            note=symptom.note,
        )
    for poem in PoemEntry.objects.filter(kept, recorded_at__gte=start, recorded_at__lt=end):
        add(poem.recorded_at, "poem", poem.pk, poem_score=poem.score, poem_band=poem.band, note=poem.note)
    for check in SkinCheck.objects.filter(kept, performed_at__gte=start, performed_at__lt=end):
        add(
            check.performed_at,
            "skin_check",
            check.pk,
            concerning="yes" if check.concerning else "no",
            **{name: YES_NO.get(answer, "") for name, answer in check.answers.items()},
            urgent_signs=" ".join(check.urgent_signs),
            note=check.note,
        )
    for _moment, cells in sorted(rows, key=lambda row: row[0]):
        yield cells


# Full-width forms too: some spreadsheets read them as their ASCII twins.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_safe(cells: list[str]) -> list[str]:
    """Cells a spreadsheet would run as a formula get a leading ' (OWASP CSV injection); numbers stay numbers."""
    return [f"'{cell}" if cell.lstrip(" ")[:1] in FORMULA_STARTS and not is_number(cell) else cell for cell in cells]


def is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
