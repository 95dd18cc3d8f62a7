"""Server-rendered SVG charts for the dermatologist's review pages and the printable visit report.

Pure functions: data in, one `<svg>` out as a `SafeString`; no database, no JavaScript, no external
font or stylesheet, so the charts work on a closed network and print as they show. Every element is
built from tracking/review/svg.py, which escapes each attribute value and text child. Marks differ by
shade, dash, stroke and text as well as by colour, so a black-and-white print keeps them apart. Each
data mark has a `<title>` child, which browsers show as a tooltip on hover.
"""

from __future__ import annotations

import datetime
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.safestring import SafeString

from tracking.adherence import Day
from tracking.review.svg import CHAR_WIDTH, INK, document, el, join, num, svg_line, svg_text, tooltip

MUTED = "#666"
GRID = "#ccc"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# Fixed English names rather than strftime("%b"), which follows the process locale.
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Series colours, all dark enough to stay visible in greyscale; dashes and hollow markers separate them there.
PALETTE = ("#1f4e79", "#a63d00", "#2e6b30", "#6a1b9a")
ONE_DAY = datetime.timedelta(days=1)
GAP = "\u2013"  # en dash: stands for a day without an entry in sparkline tooltips


@dataclass(frozen=True)
class Series:
    """One line of a line chart: a label and (aware datetime, value) points, in any order."""

    label: str
    points: Sequence[tuple[datetime.datetime, float]]
    dashed: bool = False


@dataclass(frozen=True)
class Band:
    """A shaded horizontal band of a line chart, from `lower` to `upper` on the value axis."""

    lower: float
    upper: float
    label: str


@dataclass(frozen=True)
class Bar:
    """One row of a bar chart; `note` is printed after the value."""

    label: str
    value: float
    note: str = ""


# Heatmap ------------------------------------------------------------------------------------------

CELL, PITCH, HEAT_LEFT, HEAT_TOP = 14, 17, 30, 18
# kind -> (fill, stroke, stroke-dasharray, legend text). Shades darken with adherence so greyscale keeps
# the order; "missed" also has a cross (its pale fill greys like "under half"), "none" a diagonal stroke,
# unknown days only a dashed outline.
CELL_LOOK = {
    "full": ("#1a6b32", "#1a6b32", "", "all logged"),
    "partial high": ("#5aa872", "#3d8a55", "", "half or more"),
    "partial low": ("#b5dcbf", "#7fb08c", "", "under half"),
    "missed": ("#f3c9c5", "#a33a2f", "", "none logged"),
    "none": ("#fff", "#999", "", "nothing due"),
    "nodata": ("#fff", "#bbb", "2 2", "no data / upcoming"),
    "future": ("#fff", "#bbb", "2 2", ""),
}


def _day_look(date: datetime.date, day: Day | None, today: datetime.date) -> tuple[str, str]:
    """(kind, tooltip) for one calendar cell."""
    name = f"{date.isoformat()} {WEEKDAYS[date.weekday()]}"
    if date > today:
        return "future", f"{name}: upcoming"
    if day is None:
        return "nodata", f"{name}: no data"
    if day.expected <= 0:
        return "none", f"{name}: nothing due" + (f", {day.logged} logged" if day.logged else "")
    ratio = day.logged / day.expected
    kind = "full" if ratio >= 1 else "partial high" if ratio >= 0.5 else "partial low" if ratio > 0 else "missed"
    return kind, f"{name}: {day.logged} of {day.expected} dose{'s' if day.expected != 1 else ''} logged"


def _cell(x: float, y: float, kind: str, *, title: str = "", date: datetime.date | None = None) -> SafeString:
    fill, stroke, dash, _ = CELL_LOOK[kind]
    cls, data_date = (f"cell {kind}", date.isoformat()) if date else (f"key {kind}", "")
    look = {"fill": fill, "stroke": stroke, "stroke_dasharray": dash}
    rect = el("rect", tooltip(title), x=x, y=y, width=CELL, height=CELL, rx=2, **look, cls=cls, data_date=data_date)
    near, far = 3.5, CELL - 3.5
    if kind == "none":
        strokes, colour = [(near, far, far, near)], "#999"
    elif kind == "missed":
        strokes, colour = [(near, near, far, far), (near, far, far, near)], stroke
    else:
        return rect
    # The strokes lie over the rect; pointer-events="none" keeps the rect's tooltip under the mouse.
    path = " ".join(f"M{num(x + x1)} {num(y + y1)}L{num(x + x2)} {num(y + y2)}" for x1, y1, x2, y2 in strokes)
    return join([rect, el("path", d=path, stroke=colour, pointer_events="none")])


def adherence_heatmap(days: Sequence[Day], *, today: datetime.date, weeks: int = 12) -> SafeString:
    """A calendar of doses logged over doses due, one column per ISO week (Monday first), rows Mon..Sun.

    The last of the `weeks` columns is the week holding `today`. Each cell is a `<rect class="cell KIND"
    data-date="YYYY-MM-DD">` with a `<title>` tooltip; KIND is "full", "partial high" (half or more),
    "partial low", "missed" (nothing logged), "none" (nothing due), "nodata" (no Day given) or "future"
    (after `today`). When `days` repeats a date, the last one wins. Weekday labels sit on the left,
    month labels (`text.month`) above the column where a month starts, a legend on the right. The
    aria-label sums the doses logged up to today. Raises ValueError when weeks < 1.
    """
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    by_date = {day.date: day for day in days}
    first = today - datetime.timedelta(days=today.weekday() + 7 * (weeks - 1))
    parts = [
        svg_text(HEAT_LEFT - 4, HEAT_TOP + row * PITCH + 11, WEEKDAYS[row], anchor="end", size=9) for row in range(7)
    ]
    expected = logged = 0
    year_shown = False
    for column in range(weeks):
        monday = first + datetime.timedelta(days=7 * column)
        dates = [monday + datetime.timedelta(days=row) for row in range(7)]
        starts = next((date for date in dates if date.day == 1), None)
        # The first column names its month (and year) too, unless one starts in the next two columns: that
        # label would overlap it.
        soon = any((monday + datetime.timedelta(days=7 + offset)).day == 1 for offset in range(14))
        if starts is None and column == 0 and not soon:
            starts = monday
        if starts is not None:
            with_year = not year_shown or starts.month == 1  # the first label and each January carry the year
            name = MONTHS[starts.month - 1] + (f" {starts.year}" if with_year else "")
            year_shown = True
            parts.append(svg_text(HEAT_LEFT + column * PITCH, HEAT_TOP - 6, name, size=9, cls="month"))
        for row, date in enumerate(dates):
            day = by_date.get(date)
            if day is not None and date <= today:
                expected += max(day.expected, 0)
                logged += min(day.logged, max(day.expected, 0))
            kind, title = _day_look(date, day, today)
            parts.append(_cell(HEAT_LEFT + column * PITCH, HEAT_TOP + row * PITCH, kind, title=title, date=date))
    legend_x = HEAT_LEFT + weeks * PITCH + 12
    for row, kind in enumerate(kind for kind in CELL_LOOK if kind != "future"):
        parts.append(_cell(legend_x, HEAT_TOP + row * PITCH, kind))
        legend_y = HEAT_TOP + row * PITCH + 11
        parts.append(svg_text(legend_x + CELL + 5, legend_y, CELL_LOOK[kind][3], size=9, cls="legend"))
    share = f" ({round(100 * logged / expected)}%)" if expected else ""
    label = f"Adherence, {weeks} weeks to {today.isoformat()}: {logged} of {expected} doses logged{share}"
    width = legend_x + CELL + 5 + 18 * 5.2  # room for the longest legend text at font-size 9
    return document("heatmap", width, HEAT_TOP + 7 * PITCH + 2, label, parts)


# Line chart ---------------------------------------------------------------------------------------

LINE_W, LEFT, RIGHT, TOP, PLOT_H = 640, 44, 20, 30, 180


def _date_ticks(
    start: datetime.datetime, end: datetime.datetime, zone: datetime.tzinfo
) -> list[tuple[datetime.datetime, str]]:
    """Local midnights between start and end, every 1, 2, 3, 7, 14, 28... days so that at most 8 fall in."""
    span = (end - start) / ONE_DAY
    step = next((s for s in (1, 2, 3, 7, 14, 28, 56, 91, 182, 365) if span / s <= 8), math.ceil(span / 8))
    date = start.astimezone(zone).date()
    if datetime.datetime.combine(date, datetime.time(), tzinfo=zone) < start:
        date += ONE_DAY
    ticks = []
    while (moment := datetime.datetime.combine(date, datetime.time(), tzinfo=zone)) <= end:
        ticks.append((moment, f"{date.day} {MONTHS[date.month - 1]}"))
        date += datetime.timedelta(days=step)
    return ticks


def _marker(x: float, y: float, colour: str, *, hollow: bool, tip: str = "") -> SafeString:
    """A point marker; hollow for dashed series, so markers too tell series apart without colour."""
    fill = "#fff" if hollow else colour
    cls = "point" if tip else "legend-marker"
    return el("circle", tooltip(tip), cx=x, cy=y, r=3.5, fill=fill, stroke=colour, stroke_width=1.5, cls=cls)


def line_chart(
    series: Sequence[Series],
    *,
    start: datetime.datetime,
    end: datetime.datetime,
    y_min: float,
    y_max: float,
    y_ticks: Sequence[float],
    title: str,
    bands: Sequence[Band] = (),
    zone: datetime.tzinfo | None = None,
    width: float = LINE_W,
) -> SafeString:
    """Values over time from `start` to `end`, with optional shaded bands, as an SVG line chart.

    Dates along the x axis (`text.x-label`, local midnights) and times in tooltips are in `zone` (UTC
    when None). Gridlines (`line.grid`, labelled `text.y-label`) sit at the `y_ticks` within [y_min,
    y_max]. Each band is a `rect.band` with its `text.band-label` at the right edge and a
    `line.band-edge` at each distinct boundary; bands cover exactly [lower, upper]. Each series is a
    `polyline.series` (dashed if asked) and a `circle.point` per point, titled "label: value at
    YYYY-MM-DD HH:MM". Points are sorted by time; those outside [start, end] or not finite are dropped;
    values are clamped to the axis (the tooltip keeps the true value). When no point is left, a
    `text.no-data` says so. A legend (`g.legend-item`) names every series. `width` is the drawing's
    own width: a narrower one shows the same text larger once scaled to a page (the printed report).
    Raises ValueError when end <= start or y_max <= y_min.
    """
    if end <= start:
        raise ValueError("line_chart needs start < end")
    if y_max <= y_min:
        raise ValueError("line_chart needs y_min < y_max")
    zone = zone or datetime.UTC
    # Room on the right for the longest band label (at font-size 10), or a small margin without bands.
    right = 12 + CHAR_WIDTH * 10 / 11 * max((len(band.label) for band in bands), default=0) if bands else RIGHT
    plot_w, bottom = width - LEFT - right, TOP + PLOT_H

    def x_of(moment: datetime.datetime) -> float:
        return LEFT + plot_w * ((moment - start) / (end - start))

    def y_of(value: float) -> float:
        return bottom - PLOT_H * (min(max(value, y_min), y_max) - y_min) / (y_max - y_min)

    parts = [svg_text(LEFT, 16, title, size=13, cls="chart-title")]
    for index, band in enumerate(sorted(bands, key=lambda band: band.lower)):
        low, high = max(band.lower, y_min), min(band.upper, y_max)
        if high < low:
            continue
        tip = f"{band.label}: {num(band.lower)} to {num(band.upper)}"
        # Alternating opacity so neighbouring bands stay apart in greyscale.
        opacity = 0.05 if index % 2 == 0 else 0.12
        top, height = y_of(high), y_of(low) - y_of(high)
        shade: dict[str, str | float] = {"fill": INK, "fill_opacity": opacity}
        parts.append(el("rect", tooltip(tip), x=LEFT, y=top, width=plot_w, height=height, **shade, cls="band"))
        label_y = (y_of(low) + y_of(high)) / 2 + 4
        parts.append(svg_text(LEFT + plot_w + 6, label_y, band.label, size=10, cls="band-label"))
    edges = sorted({edge for band in bands for edge in (band.lower, band.upper) if y_min <= edge <= y_max})
    for edge in edges:
        parts.append(svg_line(LEFT, y_of(edge), LEFT + plot_w, y_of(edge), stroke=MUTED, dash="1 2", cls="band-edge"))
    for tick in (tick for tick in y_ticks if y_min <= tick <= y_max):
        parts.append(svg_line(LEFT, y_of(tick), LEFT + plot_w, y_of(tick), stroke=GRID, cls="grid"))
        parts.append(svg_text(LEFT - 6, y_of(tick) + 4, num(tick), anchor="end", size=10, cls="y-label"))
    for moment, text in _date_ticks(start, end, zone):
        parts.append(svg_line(x_of(moment), bottom, x_of(moment), bottom + 4, stroke=INK, cls="x-tick"))
        parts.append(svg_text(x_of(moment), bottom + 16, text, anchor="middle", size=10, cls="x-label"))
    parts.append(svg_line(LEFT, TOP, LEFT, bottom, stroke=INK, cls="axis"))
    parts.append(svg_line(LEFT, bottom, LEFT + plot_w, bottom, stroke=INK, cls="axis"))

    drawn = 0
    markers: list[SafeString] = []  # drawn after every line so no line hides a marker's tooltip
    for index, one in enumerate(series):
        colour, dash = PALETTE[index % len(PALETTE)], "6 4" if one.dashed else "none"
        points = sorted((at, value) for at, value in one.points if start <= at <= end and math.isfinite(value))
        drawn += len(points)
        if len(points) > 1:
            coords = " ".join(f"{num(x_of(at))},{num(y_of(value))}" for at, value in points)
            stroke: dict[str, str | float] = {"stroke": colour, "stroke_width": 2, "stroke_dasharray": dash}
            parts.append(el("polyline", points=coords, fill="none", **stroke, cls="series"))
        for at, value in points:
            tip = f"{one.label}: {num(value)} at {at.astimezone(zone).strftime('%Y-%m-%d %H:%M')}"
            markers.append(_marker(x_of(at), y_of(value), colour, hollow=one.dashed, tip=tip))
    parts += markers
    if not drawn:
        message = "No entries in this period"
        parts.append(svg_text(LEFT + plot_w / 2, TOP + PLOT_H / 2, message, anchor="middle", cls="no-data"))

    # Legend below the axis labels, wrapping to a new row when the next item would pass the plot's right edge.
    x: float = LEFT
    y: float = bottom + 36
    for index, one in enumerate(series):
        item_w = 40 + CHAR_WIDTH * len(one.label)
        if x > LEFT and x + item_w > LEFT + plot_w:
            x, y = LEFT, y + 18
        colour, dash = PALETTE[index % len(PALETTE)], "6 4" if one.dashed else "none"
        sample = el("line", x1=x, y1=y - 4, x2=x + 28, y2=y - 4, stroke=colour, stroke_width=2, stroke_dasharray=dash)
        marker = _marker(x + 14, y - 4, colour, hollow=one.dashed)
        parts.append(el("g", sample, marker, svg_text(x + 34, y, one.label, cls="legend"), cls="legend-item"))
        x += item_w
    label = f"{title}, {start.astimezone(zone).date().isoformat()} to {end.astimezone(zone).date().isoformat()}"
    return document("line", width, y + 10, label, parts)


# Bar chart ----------------------------------------------------------------------------------------

BAR_AREA, ROW, BAR_TOP, LABEL_MAX = 300, 24, 30, 32


def bar_chart(bars: Sequence[Bar], *, title: str, unit: str) -> SafeString:
    """Horizontal bars, one `rect.bar` per Bar, the largest value filling the bar area.

    The `text.bar-label` sits left of its bar (cut with "…" past 32 characters, whole in its
    `<title>`); the value, `unit` and note follow the bar as `text.bar-value`, "30 g · note". Negative
    values draw as zero. No bars: a `text.no-data` "No entries".
    """
    parts = [svg_text(0, 16, title, size=13, cls="chart-title")]
    if not bars:
        parts.append(svg_text(0, BAR_TOP + 14, "No entries", cls="no-data"))
        return document("bar", BAR_AREA, BAR_TOP + 24, f"{title}: no entries", parts)
    label_w = 8 + CHAR_WIDTH * min(max(len(bar.label) for bar in bars), LABEL_MAX)
    largest = max(max(bar.value for bar in bars), 0)
    after = [" · ".join(filter(None, [f"{num(bar.value)} {unit}".strip(), bar.note])) for bar in bars]
    for row, (bar, text) in enumerate(zip(bars, after, strict=True)):
        y = BAR_TOP + row * ROW
        length = BAR_AREA * max(bar.value, 0) / largest if largest else 0
        cut = len(bar.label) > LABEL_MAX
        shown = bar.label[: LABEL_MAX - 1] + "…" if cut else bar.label
        label_tip = tooltip(bar.label if cut else "")
        parts.append(el("text", label_tip, shown, x=label_w - 8, y=y + 15, text_anchor="end", cls="bar-label"))
        bar_tip = tooltip(f"{bar.label}: {text}")
        parts.append(el("rect", bar_tip, x=label_w, y=y + 4, width=length, height=ROW - 8, fill="#41648a", cls="bar"))
        parts.append(svg_text(label_w + length + 6, y + 15, text, cls="bar-value"))
    width = label_w + BAR_AREA + 6 + CHAR_WIDTH * max(len(text) for text in after) + 4
    return document("bar", width, BAR_TOP + len(bars) * ROW + 6, title, parts)


# Sparkline ----------------------------------------------------------------------------------------

SPARK_W, SPARK_H, SPARK_PAD = 90, 20, 3


def sparkline(values: Sequence[float | None], *, y_max: float, label: str) -> SafeString:
    """A 90x20 inline chart of one value per day for a changelist cell, 0 at the bottom, y_max at the top.

    Each run of consecutive days with a value is its own `polyline.spark-line` (a lone value a
    `circle.spark-point`), so None leaves a gap rather than a dip to zero. The last value gets a
    `circle.spark-last`. The `<title>` lists the values, an en dash for None; with no value at all, a
    dashed `line.spark-empty` and "no entries". Values are clamped to [0, y_max]. Raises ValueError
    when y_max <= 0. Unlike the other charts it has a fixed width and height, since a percentage width
    inside an auto-sized table cell has nothing to be a percentage of.
    """
    if y_max <= 0:
        raise ValueError("y_max must be positive")
    inner_w, inner_h = SPARK_W - 2 * SPARK_PAD, SPARK_H - 2 * SPARK_PAD

    def at(index: int, value: float) -> tuple[float, float]:
        x = SPARK_PAD + inner_w * index / (len(values) - 1) if len(values) > 1 else SPARK_W / 2
        return x, SPARK_H - SPARK_PAD - inner_h * min(max(value, 0), y_max) / y_max

    parts = [svg_line(0, SPARK_H - SPARK_PAD, SPARK_W, SPARK_H - SPARK_PAD, stroke="#ddd", cls="spark-base")]
    present = [(index, value) for index, value in enumerate(values) if value is not None]
    if not present:
        left, right, middle = SPARK_PAD, SPARK_W - SPARK_PAD, SPARK_H / 2
        parts.append(svg_line(left, middle, right, middle, stroke="#999", dash="2 3", cls="spark-empty"))
        tip = f"{label}: no entries"
    else:
        tip = f"{label}: " + ", ".join(GAP if value is None else num(value) for value in values)
        for has_value, run in itertools.groupby(enumerate(values), key=lambda item: item[1] is not None):
            coords = [at(index, value) for index, value in run if value is not None]
            if not has_value:
                continue
            if len(coords) == 1:
                parts.append(el("circle", cx=coords[0][0], cy=coords[0][1], r=1.5, fill=INK, cls="spark-point"))
            else:
                points = " ".join(f"{num(x)},{num(y)}" for x, y in coords)
                parts.append(el("polyline", points=points, fill="none", stroke=INK, stroke_width=1.5, cls="spark-line"))
        x, y = at(*present[-1])
        parts.append(el("circle", cx=x, cy=y, r=2.5, fill=INK, cls="spark-last"))
    # The <title> carries the values while aria-label stays the short label a table cell needs read out.
    return document("spark", SPARK_W, SPARK_H, label, parts, tip=tip, fixed=True)
