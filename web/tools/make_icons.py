"""Draw the web app's PNG icons with the standard library only (no Pillow): run from the repository root.

`python web/tools/make_icons.py` writes web/static/web/icons/icon-192.png, icon-512.png and
icon-maskable-512.png: a white drop of ointment on the app's teal, the same drawing as icon.svg.
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

ICONS = Path(__file__).resolve().parents[1] / "static" / "web" / "icons"
TEAL = (11, 93, 107)
WHITE = (255, 255, 255)
SUPERSAMPLE = 3


def inside_drop(x: float, y: float) -> bool:
    """A drop in a unit square: a circle at the bottom and a point at the top, tangent to it."""
    cx, cy, radius = 0.5, 0.6, 0.22
    if (x - cx) ** 2 + (y - cy) ** 2 <= radius**2:
        return True
    tip_y = 0.18
    distance = cy - tip_y
    # The tangent lines from the tip to the circle bound the upper part, down to where they touch it.
    if not tip_y <= y <= cy - radius**2 / distance:
        return False
    half_angle = math.asin(radius / distance)
    return abs(x - cx) <= (y - tip_y) * math.tan(half_angle)


def inside_rounded_square(x: float, y: float, corner: float) -> bool:
    nearest_x = min(max(x, corner), 1 - corner)
    nearest_y = min(max(y, corner), 1 - corner)
    return (x - nearest_x) ** 2 + (y - nearest_y) ** 2 <= corner**2


def pixel(x: int, y: int, size: int, *, maskable: bool) -> tuple[int, int, int, int]:
    """Average of SUPERSAMPLE² samples: teal square (full bleed when maskable), white drop, transparent outside."""
    totals = [0.0, 0.0, 0.0, 0.0]
    scale = 0.8 if maskable else 1.0  # a maskable icon keeps its drawing inside the safe circle
    for sub_y in range(SUPERSAMPLE):
        for sub_x in range(SUPERSAMPLE):
            u = (x + (sub_x + 0.5) / SUPERSAMPLE) / size
            v = (y + (sub_y + 0.5) / SUPERSAMPLE) / size
            if not maskable and not inside_rounded_square(u, v, 0.18):
                continue
            colour = WHITE if inside_drop(0.5 + (u - 0.5) / scale, 0.5 + (v - 0.5) / scale) else TEAL
            for channel in range(3):
                totals[channel] += colour[channel]
            totals[3] += 255
    samples = SUPERSAMPLE * SUPERSAMPLE
    alpha = totals[3] / samples
    if alpha == 0:
        return (0, 0, 0, 0)
    covered = totals[3] / 255
    return (*(round(totals[c] / covered) for c in range(3)), round(alpha))  # type: ignore[return-value]


def png(size: int, *, maskable: bool) -> bytes:
    rows = b"".join(
        b"\x00" + b"".join(bytes(pixel(x, y, size, maskable=maskable)) for x in range(size)) for y in range(size)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def main() -> None:
    ICONS.mkdir(parents=True, exist_ok=True)
    (ICONS / "icon-192.png").write_bytes(png(192, maskable=False))
    (ICONS / "icon-512.png").write_bytes(png(512, maskable=False))
    (ICONS / "icon-maskable-512.png").write_bytes(png(512, maskable=True))


if __name__ == "__main__":
    main()
