"""What the review page and the printable visit report show of a `Review`: its charts and its labels.

Presentation only: the review is read by tracking/review/selectors.py (`patient_review`), and the
admin views (tracking/admin/patients.py) put this context in their templates.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django.utils.safestring import SafeString

from accounts.models import Condition
from tracking import rules
from tracking.review import charts
from tracking.review.selectors import REVIEW_WEEKS, Review

# What an empty cell or figure shows.
NOTHING = "—"
POEM_MAX = rules.POEM_ITEM_COUNT * rules.POEM_ITEM_MAX  # 28


def regimen_label(regimen: Any) -> str:
    return f"{regimen.drug} {regimen.strength}% · {regimen.phase}" if regimen else NOTHING


def review_context(review: Review, *, chart_width: float = charts.LINE_W) -> dict[str, Any]:
    """The review's figures and its charts, as the review page and the visit report show them.

    POEM is an eczema measure: its chart is left out for a patient without atopic dermatitis
    unless they logged one anyway.
    """
    zone = ZoneInfo(review.patient.timezone)
    start, end = review.start, review.now
    symptoms = review.symptoms
    burning = [(symptom.recorded_at, float(symptom.burning)) for symptom in symptoms if symptom.burning is not None]
    itch = [(symptom.recorded_at, float(symptom.itch)) for symptom in symptoms if symptom.itch is not None]
    flare = [
        (symptom.recorded_at, float(symptom.flare_severity))
        for symptom in symptoms
        if symptom.flare_severity is not None
    ]
    poem = [(entry.recorded_at, float(entry.score)) for entry in review.poems if entry.score is not None]
    weeks = f"last {REVIEW_WEEKS} weeks"
    chart_svgs: dict[str, SafeString] = {
        "heatmap": charts.adherence_heatmap(review.days, today=review.today, weeks=REVIEW_WEEKS),
        "burning_itch": charts.line_chart(
            [charts.Series("Burning (NRS 0-10)", burning), charts.Series("Itch (NRS 0-10)", itch, dashed=True)],
            start=start,
            end=end,
            y_min=rules.NRS_MIN,
            y_max=rules.NRS_MAX,
            y_ticks=(0, 2, 4, 6, 8, 10),
            title=f"Burning and itch, {weeks}",
            zone=zone,
            width=chart_width,
        ),
        "flare": charts.line_chart(
            [charts.Series("Flare severity (0 clear - 4 severe)", flare)],
            start=start,
            end=end,
            y_min=rules.FLARE_SEVERITY_MIN,
            y_max=rules.FLARE_SEVERITY_MAX,
            y_ticks=tuple(range(rules.FLARE_SEVERITY_MIN, rules.FLARE_SEVERITY_MAX + 1)),
            title=f"Flare severity, {weeks}",
            zone=zone,
            width=chart_width,
        ),
        "areas": charts.bar_chart(
            [
                charts.Bar(
                    label=use.area,
                    value=use.applications,
                    note=area_note(use.measured_ftu, use.measured_applications, use.table_ftu),
                )
                for use in review.areas
            ],
            title=f"Where it was applied, {weeks}",
            unit="applications",
        ),
    }
    if review.patient.condition == Condition.ATOPIC_DERMATITIS or review.poems:
        chart_svgs["poem"] = charts.line_chart(
            [charts.Series("POEM (0-28)", poem)],
            start=start,
            end=end,
            y_min=0,
            y_max=POEM_MAX,
            y_ticks=(0, 7, 14, 21, 28),
            title=f"POEM, {weeks}",
            # Scores are whole numbers: bands meet half-way between one band's top and the next's bottom.
            bands=[
                charts.Band(max(0, lowest - 0.5), min(POEM_MAX, highest + 0.5), band.replace("_", " "))
                for band, lowest, highest in rules.POEM_BANDS
            ],
            zone=zone,
            width=chart_width,
        )
    latest_poem = next((entry for entry in reversed(review.poems) if entry.score is not None), None)
    return {
        "review": review,
        "patient": review.patient,
        "charts": chart_svgs,
        "latest_poem": latest_poem,
        "latest_poem_band": latest_poem.band.replace("_", " ") if latest_poem else "",
        "current_regimen_label": regimen_label(review.current_regimen),
        "zone": zone,
        "weekdays": {regimen.pk: weekdays_label(regimen.weekdays) for regimen in review.regimens},
    }


def weekdays_label(weekdays: list[int]) -> str:
    """ "daily", or the ISO weekday numbers as names ("Mon, Thu")."""
    if sorted(weekdays) == [1, 2, 3, 4, 5, 6, 7]:
        return "daily"
    return ", ".join(charts.WEEKDAYS[day - 1] for day in sorted(weekdays))


def area_note(measured_ftu: Any, measured_applications: int, table_ftu: Any) -> str:
    parts = []
    if measured_applications:
        # One amount covers all of an application's areas: say so, rather than split it by guesswork.
        mean = measured_ftu / measured_applications
        parts.append(f"mean {mean:.1f} FTU per application (all its areas), {measured_applications} with an amount")
    else:
        parts.append("no amount logged")
    if table_ftu is not None:
        parts.append(f"FTU table {table_ftu} FTU")
    return "; ".join(parts)
