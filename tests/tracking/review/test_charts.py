"""The SVG charts, read back as XML: what a browser draws, what its tooltips say, what gets escaped.

No database: the charts are pure functions. Positions are compared with each other (or with the
chart's own gridlines), not with hard-coded pixels, so a change of layout does not break the tests.
"""

from __future__ import annotations

import datetime
import xml.etree.ElementTree as ET
import zoneinfo
from collections.abc import Callable

import pytest
from django.utils.safestring import SafeString

from tracking.adherence import Day
from tracking.review.charts import Band, Bar, Series, adherence_heatmap, bar_chart, line_chart, sparkline

SVG = "{http://www.w3.org/2000/svg}"
UTC = datetime.UTC
TODAY = datetime.date(2026, 11, 4)  # a Wednesday
START = datetime.datetime(2026, 10, 1, tzinfo=UTC)
END = datetime.datetime(2026, 11, 1, tzinfo=UTC)
POEM_BANDS = [
    Band(0, 2, "clear"),
    Band(3, 7, "mild"),
    Band(8, 16, "moderate"),
    Band(17, 24, "severe"),
    Band(25, 28, "very severe"),
]
NASTY = "<script>alert(1)</script> & co"


def parse(svg: SafeString) -> ET.Element:
    assert isinstance(svg, SafeString)
    root = ET.fromstring(str(svg))  # noqa: S314 - our own output, not untrusted input
    assert root.tag == f"{SVG}svg"
    return root


def classes(element: ET.Element) -> set[str]:
    return set(element.get("class", "").split())


def having(root: ET.Element, tag: str, cls: str) -> list[ET.Element]:
    return [element for element in root.iter(f"{SVG}{tag}") if cls in classes(element)]


def tip(element: ET.Element) -> str:
    title = element.find(f"{SVG}title")
    assert title is not None, ET.tostring(element)
    return title.text or ""


def texts(root: ET.Element) -> list[str]:
    return [element.text or "" for element in root.iter(f"{SVG}text")]


def at(day: int, hour: int = 8, month: int = 10) -> datetime.datetime:
    return datetime.datetime(2026, month, day, hour, tzinfo=UTC)


def cells(root: ET.Element) -> dict[datetime.date, ET.Element]:
    return {datetime.date.fromisoformat(cell.get("data-date", "")): cell for cell in having(root, "rect", "cell")}


def chart_line(series: list[Series], **overrides: object) -> ET.Element:
    options: dict[str, object] = {
        "start": START,
        "end": END,
        "y_min": 0,
        "y_max": 10,
        "y_ticks": [0, 5, 10],
        "title": "Itch",
    }
    options.update(overrides)
    return parse(line_chart(series, **options))


def gridline_y(root: ET.Element, value: float) -> float:
    labels = {float(text.text or ""): text for text in having(root, "text", "y-label")}
    grid = having(root, "line", "grid")
    index = sorted(labels).index(value)
    return float(sorted(grid, key=lambda line: -float(line.get("y1", "")))[index].get("y1", ""))


# Every chart ----------------------------------------------------------------------------------------

EVERY_CHART: dict[str, Callable[[str], SafeString]] = {
    "heatmap": lambda label: adherence_heatmap([Day(TODAY, 2, 1)], today=TODAY),
    "line": lambda label: line_chart(
        [Series(label, [(at(3), 4.0)])],
        start=START,
        end=END,
        y_min=0,
        y_max=28,
        y_ticks=[0],
        title=label,
        bands=[Band(0, 2, label)],
    ),
    "bar": lambda label: bar_chart([Bar(label, 3, note=label)], title=label, unit=label),
    "sparkline": lambda label: sparkline([1.0, None, 2.0], y_max=10, label=label),
}


@pytest.mark.parametrize("kind", EVERY_CHART)
def test_every_chart_is_a_scalable_accessible_svg(kind):
    root = parse(EVERY_CHART[kind]("Burning"))
    assert root.get("role") == "img"
    assert "Burning" in root.get("aria-label", "") or kind == "heatmap"
    assert root.get("aria-label")
    assert root[0].tag == f"{SVG}title"
    assert root.get("viewBox", "").startswith("0 0 ")
    assert root.get("font-family") == "system-ui, sans-serif"
    assert root.get("width") == ("90" if kind == "sparkline" else "100%")


@pytest.mark.parametrize("kind", [kind for kind in EVERY_CHART if kind != "heatmap"])
def test_labels_are_escaped_into_text_never_markup(kind):
    svg = str(EVERY_CHART[kind](NASTY))
    root = parse(SafeString(svg))
    assert not any(element.tag.endswith("script") for element in root.iter())
    assert "<script>" not in svg
    written = [element.text or "" for element in root.iter()] + [root.get("aria-label", "")]
    assert any(NASTY in text for text in written)


# Heatmap -------------------------------------------------------------------------------------------


def test_heatmap_has_one_cell_per_day_of_the_twelve_weeks():
    root = parse(adherence_heatmap([], today=TODAY))
    by_date = cells(root)
    assert len(having(root, "rect", "cell")) == len(by_date) == 12 * 7
    first, last = min(by_date), max(by_date)
    assert first.weekday() == 0
    assert last.weekday() == 6
    assert (last - first).days == 12 * 7 - 1
    assert first <= TODAY <= last
    assert (last - TODAY).days < 7  # the last column is today's week
    columns = sorted({float(cell.get("x", "")) for cell in by_date.values()})
    assert len(columns) == 12
    assert float(by_date[TODAY].get("x", "")) == columns[-1]


def test_heatmap_weeks_sets_the_number_of_columns_and_rows_run_monday_to_sunday():
    root = parse(adherence_heatmap([], today=TODAY, weeks=4))
    by_date = cells(root)
    assert len(by_date) == 28
    assert len({cell.get("x") for cell in by_date.values()}) == 4
    monday = TODAY - datetime.timedelta(days=TODAY.weekday())
    rows = [float(by_date[monday + datetime.timedelta(days=n)].get("y", "")) for n in range(7)]
    assert rows == sorted(rows)
    assert len(set(rows)) == 7
    assert [text for text in texts(root) if text in {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}] == [
        "Mon",
        "Tue",
        "Wed",
        "Thu",
        "Fri",
        "Sat",
        "Sun",
    ]


def test_heatmap_classes_follow_logged_over_expected():
    day = TODAY - datetime.timedelta(days=10)
    days = [
        Day(day, 2, 2),
        Day(day + datetime.timedelta(days=1), 2, 0),
        Day(day + datetime.timedelta(days=2), 0, 0),
        Day(day + datetime.timedelta(days=3), 2, 1),
        Day(day + datetime.timedelta(days=4), 3, 1),
        Day(TODAY + datetime.timedelta(days=1), 2, 0),  # after today: upcoming whatever it says
    ]
    by_date = cells(parse(adherence_heatmap(days, today=TODAY)))
    assert classes(by_date[day]) == {"cell", "full"}
    assert classes(by_date[day + datetime.timedelta(days=1)]) == {"cell", "missed"}
    assert classes(by_date[day + datetime.timedelta(days=2)]) == {"cell", "none"}
    assert classes(by_date[day + datetime.timedelta(days=3)]) == {"cell", "partial", "high"}
    assert classes(by_date[day + datetime.timedelta(days=4)]) == {"cell", "partial", "low"}
    assert classes(by_date[day + datetime.timedelta(days=5)]) == {"cell", "nodata"}
    assert classes(by_date[TODAY + datetime.timedelta(days=1)]) == {"cell", "future"}
    looks = {(cell.get("fill"), cell.get("stroke-dasharray")) for cell in by_date.values()}
    assert len(looks) == 6  # future and no-data share the empty outline; every other kind looks its own


def test_heatmap_tooltips_say_how_many_doses_were_logged():
    days = [Day(datetime.date(2026, 11, 3), 2, 1), Day(datetime.date(2026, 11, 2), 0, 0), Day(TODAY, 1, 1)]
    by_date = cells(parse(adherence_heatmap(days, today=TODAY)))
    assert tip(by_date[datetime.date(2026, 11, 3)]) == "2026-11-03 Tue: 1 of 2 doses logged"
    assert tip(by_date[datetime.date(2026, 11, 2)]) == "2026-11-02 Mon: nothing due"
    assert tip(by_date[TODAY]) == "2026-11-04 Wed: 1 of 1 dose logged"
    assert tip(by_date[datetime.date(2026, 11, 5)]) == "2026-11-05 Thu: upcoming"
    assert tip(by_date[datetime.date(2026, 11, 1)]) == "2026-11-01 Sun: no data"


def test_heatmap_names_a_month_above_the_column_where_it_starts():
    root = parse(adherence_heatmap([], today=TODAY))
    by_date = cells(root)
    months = {text.text: float(text.get("x", "")) for text in having(root, "text", "month")}
    assert list(months) == ["Sep 2026", "Oct", "Nov"]  # August's first column is too close to September's
    assert months["Nov"] == float(by_date[datetime.date(2026, 11, 1)].get("x", ""))
    assert months["Oct"] == float(by_date[datetime.date(2026, 10, 1)].get("x", ""))


def test_heatmap_gives_the_year_to_the_first_month_and_to_january():
    root = parse(adherence_heatmap([], today=datetime.date(2027, 2, 10), weeks=10))
    assert [text.text for text in having(root, "text", "month")] == ["Dec 2026", "Jan 2027", "Feb"]


def test_heatmap_marks_missed_and_nothing_due_with_strokes_not_only_colour():
    days = [
        Day(TODAY, 2, 0),
        Day(TODAY - datetime.timedelta(days=1), 0, 0),
        Day(TODAY - datetime.timedelta(days=2), 2, 1),
    ]
    root = parse(adherence_heatmap(days, today=TODAY, weeks=1))
    strokes = [path.get("d", "").count("M") for path in root.iter(f"{SVG}path")]
    assert sorted(strokes) == [1, 1, 2, 2]  # a slash and a cross, in the grid and again in the legend


def test_heatmap_summary_counts_doses_up_to_today_and_legend_names_each_look():
    days = [
        Day(TODAY - datetime.timedelta(days=1), 2, 2),
        Day(TODAY, 2, 1),
        Day(TODAY + datetime.timedelta(days=1), 2, 2),
    ]
    root = parse(adherence_heatmap(days, today=TODAY))
    assert root.get("aria-label", "").endswith("3 of 4 doses logged (75%)")
    assert {"all logged", "none logged", "nothing due", "no data / upcoming"} <= set(texts(root))


# Line chart ----------------------------------------------------------------------------------------


def test_line_chart_sorts_points_by_time_so_x_increases():
    root = chart_line([Series("Itch", [(at(20), 3.0), (at(5), 7.0), (at(12), 5.0)])])
    (line,) = having(root, "polyline", "series")
    xs = [float(pair.split(",")[0]) for pair in line.get("points", "").split()]
    assert len(set(xs)) == 3
    assert xs == sorted(xs)
    assert [tip(point) for point in having(root, "circle", "point")] == [
        "Itch: 7 at 2026-10-05 08:00",
        "Itch: 5 at 2026-10-12 08:00",
        "Itch: 3 at 2026-10-20 08:00",
    ]


def test_line_chart_drops_points_outside_the_period():
    root = chart_line([Series("Itch", [(at(30, month=9), 1.0), (at(10), 2.0), (at(11), 4.0), (at(2, month=11), 9.0)])])
    assert [tip(point) for point in having(root, "circle", "point")] == [
        "Itch: 2 at 2026-10-10 08:00",
        "Itch: 4 at 2026-10-11 08:00",
    ]
    assert len(having(root, "polyline", "series")[0].get("points", "").split()) == 2


def test_line_chart_clamps_values_to_the_axis_but_tooltips_keep_them():
    root = chart_line([Series("Itch", [(at(10), 14.0), (at(11), -3.0), (at(12), 5.0)])])
    top, middle, bottom = gridline_y(root, 10), gridline_y(root, 5), gridline_y(root, 0)
    assert top < middle < bottom
    ys = [float(point.get("cy", "")) for point in having(root, "circle", "point")]
    assert ys == [top, bottom, middle]
    assert tip(having(root, "circle", "point")[0]) == "Itch: 14 at 2026-10-10 08:00"


def test_line_chart_bands_show_their_labels_and_a_line_at_each_boundary():
    root = chart_line([], y_max=28, y_ticks=[0, 7, 14, 21, 28], bands=POEM_BANDS)
    assert [text.text for text in having(root, "text", "band-label")] == [
        "clear",
        "mild",
        "moderate",
        "severe",
        "very severe",
    ]
    edges = sorted(float(line.get("y1", "")) for line in having(root, "line", "band-edge"))
    assert len(edges) == len({0, 2, 3, 7, 8, 16, 17, 24, 25, 28}) == 10
    assert edges[0] == gridline_y(root, 28)
    assert edges[-1] == gridline_y(root, 0)
    per_point = (gridline_y(root, 0) - gridline_y(root, 28)) / 28
    assert edges[4] == pytest.approx(gridline_y(root, 0) - 16 * per_point, abs=0.01)  # top to bottom: 28 25 24 17 16
    assert len(having(root, "rect", "band")) == 5


def test_line_chart_says_no_entries_only_when_no_point_is_in_range():
    empty = chart_line([Series("Itch", [(at(1, month=12), 3.0)]), Series("Burning", [])])
    assert "No entries in this period" in texts(empty)
    assert not having(empty, "polyline", "series")
    assert not having(empty, "circle", "point")
    assert having(empty, "line", "axis")
    full = chart_line([Series("Itch", [(at(3), 3.0)])])
    assert "No entries in this period" not in texts(full)
    assert len(having(full, "circle", "point")) == 1


def test_line_chart_legend_names_every_series_with_its_dash_style():
    root = chart_line(
        [Series("Itch", [(at(3), 3.0), (at(4), 4.0)]), Series("Burning", [(at(3), 1.0), (at(4), 2.0)], dashed=True)]
    )
    items = having(root, "g", "legend-item")
    assert [item.find(f"{SVG}text").text for item in items] == ["Itch", "Burning"]
    assert [item.find(f"{SVG}line").get("stroke-dasharray") for item in items] == ["none", "6 4"]
    assert [line.get("stroke-dasharray") for line in having(root, "polyline", "series")] == ["none", "6 4"]


def test_line_chart_labels_dates_and_tooltip_times_in_the_zone():
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    root = chart_line([Series("Itch", [(at(10, hour=22), 3.0)])], zone=berlin)
    assert tip(having(root, "circle", "point")[0]) == "Itch: 3 at 2026-10-11 00:00"
    assert 4 <= len(having(root, "text", "x-label")) <= 8


@pytest.mark.parametrize("days", [5, 14, 31, 84, 365])
def test_line_chart_puts_four_to_eight_date_labels_along_the_axis(days):
    root = chart_line([], end=START + datetime.timedelta(days=days))
    labels = having(root, "text", "x-label")
    assert 4 <= len(labels) <= 8
    xs = [float(label.get("x", "")) for label in labels]
    assert xs == sorted(xs)
    assert labels[0].text == "1 Oct"


def test_line_chart_refuses_an_empty_period_or_axis():
    with pytest.raises(ValueError, match="start < end"):
        chart_line([], end=START)
    with pytest.raises(ValueError, match="y_min < y_max"):
        chart_line([], y_max=0)


# Bar chart -----------------------------------------------------------------------------------------


def test_bar_lengths_are_proportional_to_values_and_the_text_follows_the_bar():
    root = parse(
        bar_chart([Bar("Face", 10), Bar("Neck", 5, note="4 applications"), Bar("Hands", 2.5)], title="Use", unit="g")
    )
    bars = having(root, "rect", "bar")
    widths = [float(bar.get("width", "")) for bar in bars]
    assert widths[0] > 0
    assert widths[1:] == pytest.approx([widths[0] / 2, widths[0] / 4])
    values = having(root, "text", "bar-value")
    assert [value.text for value in values] == ["10 g", "5 g · 4 applications", "2.5 g"]
    for bar, value in zip(bars, values, strict=True):
        assert float(value.get("x", "")) > float(bar.get("x", "")) + float(bar.get("width", ""))
    assert [label.text for label in having(root, "text", "bar-label")] == ["Face", "Neck", "Hands"]
    assert tip(bars[1]) == "Neck: 5 g · 4 applications"


def test_bar_chart_without_bars_says_no_entries():
    root = parse(bar_chart([], title="Use", unit="g"))
    assert "No entries" in texts(root)
    assert not having(root, "rect", "bar")


def test_bar_chart_draws_negative_and_all_zero_values_as_empty_bars():
    root = parse(bar_chart([Bar("A", 0), Bar("B", -2)], title="Use", unit="g"))
    assert [float(bar.get("width", "")) for bar in having(root, "rect", "bar")] == [0, 0]


def test_bar_chart_cuts_long_labels_but_keeps_them_whole_in_the_tooltip():
    long = "Left hand, dorsal side and all fingers"
    root = parse(bar_chart([Bar(long, 1)], title="Use", unit="g"))
    (label,) = having(root, "text", "bar-label")
    assert label.text is None or len(label.text) <= 32
    assert "".join(label.itertext()).endswith("…")
    assert tip(label) == long


# Sparkline -----------------------------------------------------------------------------------------


def test_sparkline_leaves_a_gap_for_days_without_an_entry():
    root = parse(sparkline([1, 2, None, 3, 4, 5, None, None, 6], y_max=10, label="Itch"))
    lines = having(root, "polyline", "spark-line")
    assert [len(line.get("points", "").split()) for line in lines] == [2, 3]
    first_end = float(lines[0].get("points", "").split()[-1].split(",")[0])
    second_start = float(lines[1].get("points", "").split()[0].split(",")[0])
    assert second_start > first_end
    assert len(having(root, "circle", "spark-point")) == 1  # the lone 6


def test_sparkline_marks_the_last_value_and_lists_every_day():
    root = parse(sparkline([0, 10, 4, None], y_max=8, label="Itch"))
    assert tip(root) == "Itch: 0, 10, 4, \u2013"  # an en dash for the day without an entry
    assert root.get("aria-label") == "Itch"
    (last,) = having(root, "circle", "spark-last")
    ys = [float(pair.split(",")[1]) for pair in having(root, "polyline", "spark-line")[0].get("points", "").split()]
    assert float(last.get("cy", "")) == ys[2]
    assert float(last.get("cx", "")) < float(root.get("width", "")) - 10  # day 3 of 4, not the right edge
    assert ys[1] < ys[2] < ys[0]  # 10 clamps to the top (8), 0 sits at the bottom


@pytest.mark.parametrize("values", [[], [None, None]])
def test_sparkline_without_values_is_a_flat_dashed_line(values):
    root = parse(sparkline(values, y_max=10, label="Itch"))
    assert tip(root) == "Itch: no entries"
    assert having(root, "line", "spark-empty")
    assert not having(root, "polyline", "spark-line")
    assert not having(root, "circle", "spark-last")


@pytest.mark.parametrize("width", [640, 440])
def test_line_chart_band_labels_fit_inside_the_drawing_at_any_width(width: int) -> None:
    bands = [Band(0, 2.5, "clear or almost clear"), *POEM_BANDS[1:]]
    root = chart_line([], y_max=28, y_ticks=[0, 7, 14, 21, 28], bands=bands, width=width)

    view_width = float(root.get("viewBox", "").split()[2])
    assert view_width == width
    for label in having(root, "text", "band-label"):
        # font-size 10: about 5.6 units a glyph, as the chart lays text out
        assert float(label.get("x", "")) + 5.7 * len(label.text or "") <= view_width
