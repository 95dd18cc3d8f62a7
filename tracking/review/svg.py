"""The SVG pieces every chart is built from, each value escaped: no label can turn into markup.

Every element is built by `el`, which escapes each attribute value and text child through
`format_html`. Text is laid out with `CHAR_WIDTH`, since SVG cannot measure it for us.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

INK = "#222"  # near-black: prints black, and stays readable on screen
CHAR_WIDTH = 6.2  # average glyph width at font-size 11, to lay out text that SVG cannot measure for us


def num(value: float) -> str:
    """A number as text or coordinate: at most two decimals, no trailing zeros, never "-0"."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def join(parts: Iterable[SafeString | str]) -> SafeString:
    """Concatenate pieces into one SafeString, escaping the plain strings among them."""
    return format_html_join("", "{}", ((part,) for part in parts))


def el(tag: str, *children: SafeString | str, **attrs: str | float) -> SafeString:
    """One SVG element, with every attribute value and text child escaped.

    Keyword names map to attributes: `cls` to "class", underscores to hyphens (`stroke_dasharray`).
    Numbers are written by `num`; an empty-string attribute is left out.
    """
    pairs = (
        ("class" if name == "cls" else name.replace("_", "-"), value if isinstance(value, str) else num(value))
        for name, value in attrs.items()
        if value != ""
    )
    attributes = format_html_join("", ' {}="{}"', pairs)
    if not children:
        return format_html("<{}{}/>", tag, attributes)
    return format_html("<{}{}>{}</{}>", tag, attributes, join(children), tag)


def tooltip(text: str) -> SafeString | str:
    """A `<title>` child (a hover tooltip), or nothing for an empty text."""
    return el("title", text) if text else ""


def document(
    kind: str, w: float, h: float, label: str, parts: Iterable[SafeString], *, tip: str = "", fixed: bool = False
) -> SafeString:
    """The outer `<svg>`, named by `label` (aria-label, and `<title>` unless `tip` is given).

    Unless `fixed`, it is as wide as its container up to 1.25 times its drawn size: the cap keeps text
    about the same size across charts on a wide page (font-size 11 drawn, so at most ~14 px shown);
    on a narrow page or a printed A4 page the chart shrinks to fit.
    """
    size = {"width": num(w), "height": num(h)} if fixed else {"width": "100%", "style": f"max-width: {num(w * 1.25)}px"}
    head = {"xmlns": "http://www.w3.org/2000/svg", "cls": f"chart chart-{kind}", "viewBox": f"0 0 {num(w)} {num(h)}"}
    look = {"role": "img", "aria_label": label, "font_family": "system-ui, sans-serif", "font_size": "11", "fill": INK}
    return el("svg", el("title", tip or label), *parts, **head, **size, **look)


def svg_text(x: float, y: float, text: str, *, anchor: str = "start", cls: str = "", size: float = 11) -> SafeString:
    return el("text", text, x=x, y=y, text_anchor=anchor, font_size=size, cls=cls)


def svg_line(x1: float, y1: float, x2: float, y2: float, *, stroke: str, cls: str = "", dash: str = "") -> SafeString:
    return el("line", x1=x1, y1=y1, x2=x2, y2=y2, stroke=stroke, stroke_dasharray=dash, cls=cls)
