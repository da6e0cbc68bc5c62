"""A procedural painter: an endless, seeded supply of small paintings in four genres.

The offline demo needs a collection to crawl and a model needs real structure to
learn, so each genre has its own composition (a head on shoulders, a vase of
blooms on a table, hills over water, a lit skyline over a street) drawn as soft
shapes and then over-painted with short oriented brush strokes. Everything is
vectorised numpy, so a 128 px painting takes a few milliseconds.
"""

from __future__ import annotations

import colorsys
import zlib
from collections.abc import Callable

import numpy as np
from PIL import Image

GENRES: tuple[str, ...] = ("portrait", "flower-still-life", "landscape", "cityscape")
MIN_SIZE = 32
MAX_SIZE = 512

Color = np.ndarray  # float32 [3] in 0..1


def hsv(h: float, s: float, v: float) -> Color:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0))
    return np.array([r, g, b], dtype=np.float32)


def mix(a: Color, b: Color, t: float) -> Color:
    return (a + (b - a) * t).astype(np.float32)


class Canvas:
    """A float RGB canvas in 0..1 with drawing operations in unit coordinates (0..1)."""

    def __init__(self, size: int, rng: np.random.Generator) -> None:
        self.size = size
        self.rng = rng
        coords = (np.arange(size, dtype=np.float32) + 0.5) / size
        self.x = np.broadcast_to(coords[None, :], (size, size))
        self.y = np.broadcast_to(coords[:, None], (size, size))
        self.img = np.zeros((size, size, 3), dtype=np.float32)
        # Half a pixel of soft edge, in unit coordinates.
        self.aa = 1.0 / size

    def vertical_gradient(self, stops: list[tuple[float, Color]]) -> None:
        ys = np.array([p for p, _ in stops], dtype=np.float32)
        cols = np.stack([c for _, c in stops])
        column = np.stack([np.interp(self.y[:, 0], ys, cols[:, k]) for k in range(3)], axis=-1)
        self.img[:] = column[:, None, :]

    def blend(
        self, alpha: np.ndarray, color: Color | np.ndarray, box: tuple[int, int, int, int] | None = None
    ):
        y0, y1, x0, x1 = box or (0, self.size, 0, self.size)
        region = self.img[y0:y1, x0:x1]
        region += alpha[..., None] * (color - region)

    def glow(self, cx: float, cy: float, radius: float, color: Color, strength: float) -> None:
        d2 = ((self.x - cx) ** 2 + (self.y - cy) ** 2) / (radius * radius)
        self.blend(np.exp(-d2) * strength, color)

    def _box(self, cx: float, cy: float, rx: float, ry: float) -> tuple[int, int, int, int] | None:
        s = self.size
        x0, x1 = max(int((cx - rx) * s) - 1, 0), min(int((cx + rx) * s) + 2, s)
        y0, y1 = max(int((cy - ry) * s) - 1, 0), min(int((cy + ry) * s) + 2, s)
        if x0 >= x1 or y0 >= y1:
            return None
        return y0, y1, x0, x1

    def ellipse(
        self,
        cx: float,
        cy: float,
        rx: float,
        ry: float,
        color: Color,
        angle: float = 0.0,
        light: tuple[float, float, float] | None = None,
        alpha: float = 1.0,
        clip: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    ) -> None:
        """Fill a (rotated) ellipse; `light` = (lx, ly, strength) shades it like a rounded form."""
        r = max(rx, ry)
        box = self._box(cx, cy, r, r)
        if box is None:
            return
        y0, y1, x0, x1 = box
        X, Y = self.x[y0:y1, x0:x1], self.y[y0:y1, x0:x1]
        dx, dy = X - cx, Y - cy
        if angle:
            ca, sa = np.cos(angle), np.sin(angle)
            dx, dy = dx * ca + dy * sa, -dx * sa + dy * ca
        nx, ny = dx / rx, dy / ry
        d = np.sqrt(nx * nx + ny * ny)
        a = np.clip((1.0 - d) * min(rx, ry) / self.aa + 0.5, 0.0, 1.0) * alpha
        if clip is not None:
            a = a * clip(X, Y)
        col: np.ndarray = color
        if light is not None:
            lx, ly, k = light
            factor = 1.0 + k * np.clip(nx * lx + ny * ly, -1.0, 1.0)
            col = color[None, None, :] * factor[..., None]
        self.blend(a, col, box)

    def rect(self, x0: float, y0: float, x1: float, y1: float, color: Color, alpha: float = 1.0) -> None:
        s = self.size
        ix0, ix1 = max(int(np.rint(x0 * s)), 0), min(int(np.rint(x1 * s)), s)
        iy0, iy1 = max(int(np.rint(y0 * s)), 0), min(int(np.rint(y1 * s)), s)
        if ix0 >= ix1 or iy0 >= iy1:
            return
        region = self.img[iy0:iy1, ix0:ix1]
        region += alpha * (color - region)

    def below_curve(self, curve: np.ndarray, color: Color | np.ndarray, alpha: float = 1.0) -> np.ndarray:
        """Fill everything below a per-column height `curve` (unit y); returns the coverage."""
        a = np.clip((self.y - curve[None, :]) / self.aa + 0.5, 0.0, 1.0) * alpha
        self.blend(a, color)
        return a

    def ridge(self, base: float, amplitude: float, waves: int) -> np.ndarray:
        """A hill line: a few random sine waves around `base`."""
        xs = self.x[0]
        curve = np.zeros_like(xs)
        for k in range(waves):
            freq = self.rng.uniform(1.0, 3.5) * (k + 1)
            curve += np.sin(xs * freq * np.pi + self.rng.uniform(0, 2 * np.pi)) / (k + 1)
        curve /= np.abs(curve).max() + 1e-6
        return base - amplitude * (0.5 + 0.5 * curve)


# ---------------------------------------------------------------------------------------------
# Genres


def paint_portrait(c: Canvas) -> float | None:
    rng = c.rng
    bg_hue = rng.choice([0.08, 0.1, 0.13, 0.3, 0.55, 0.62, 0.0]) + rng.uniform(-0.03, 0.03)
    bg_dark = hsv(bg_hue, rng.uniform(0.3, 0.7), rng.uniform(0.08, 0.2))
    bg_light = hsv(bg_hue, rng.uniform(0.2, 0.5), rng.uniform(0.3, 0.55))
    c.vertical_gradient([(0.0, bg_light), (1.0, bg_dark)])
    cx = 0.5 + rng.uniform(-0.08, 0.08)
    cy = rng.uniform(0.34, 0.42)
    c.glow(cx + rng.uniform(-0.15, 0.15), cy, 0.35, bg_light * 1.3, 0.5)

    rx, ry = rng.uniform(0.13, 0.17), rng.uniform(0.18, 0.22)
    skin = hsv(rng.uniform(0.04, 0.09), rng.uniform(0.25, 0.55), rng.uniform(0.55, 0.92))
    hairs = [
        hsv(0.07, 0.6, 0.12),
        hsv(0.07, 0.7, 0.3),
        hsv(0.1, 0.55, 0.6),
        hsv(0.04, 0.75, 0.45),
        hsv(0.1, 0.05, 0.7),
    ]
    hair = hairs[rng.choice(len(hairs), p=[0.32, 0.3, 0.15, 0.15, 0.08])] * rng.uniform(0.85, 1.15)
    cloth_hue = rng.uniform(0, 1)
    cloth = hsv(cloth_hue, rng.uniform(0.3, 0.8), rng.uniform(0.15, 0.5))
    lx = rng.choice([-1.0, 1.0])  # which side the window light comes from
    light = (lx * 0.7, -0.7, 0.35)
    turn = rng.uniform(-0.25, 0.25) * rx

    long_hair = rng.random() < 0.45
    if long_hair:
        c.ellipse(cx, cy + ry * 0.55, rx * 1.35, ry * 1.45, hair, light=light)
    # Shoulders and body.
    body_cx = cx + rng.uniform(-0.04, 0.04)
    c.ellipse(body_cx, 1.1, rng.uniform(0.4, 0.5), rng.uniform(0.3, 0.38), cloth, light=(lx, -0.5, 0.3))
    if rng.random() < 0.5:  # white collar or lace
        c.ellipse(cx, cy + ry * 1.45, rx * 0.95, ry * 0.35, hsv(0.12, 0.08, 0.88), light=light)
    c.rect(cx - rx * 0.42, cy + ry * 0.6, cx + rx * 0.42, cy + ry * 1.45, skin * 0.82)
    # Hair cap, then the face clipped below a curved hairline.
    hairline = cy - ry * rng.uniform(0.35, 0.6)
    c.ellipse(cx, cy - ry * 0.18, rx * 1.16, ry * 0.98, hair, light=light)

    def below_hairline(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        curve = hairline + 0.35 * ry * ((X - cx - turn) / rx) ** 2
        return np.clip((Y - curve) / c.aa, 0.0, 1.0)

    c.ellipse(cx, cy, rx, ry, skin, light=light, clip=below_hairline)
    # Features: brows, eyes, nose shadow, mouth, blush.
    ex = rx * 0.38
    ey = cy - ry * 0.05
    dark = hsv(0.05, 0.5, 0.12)
    for side in (-1, 1):
        c.ellipse(cx + turn + side * ex, ey - ry * 0.17, rx * 0.2, ry * 0.045, hair * 0.8)
        c.ellipse(cx + turn + side * ex, ey, rx * 0.17, ry * 0.075, hsv(0.1, 0.1, 0.92))
        c.ellipse(cx + turn + side * ex, ey, rx * 0.08, ry * 0.07, dark)
        c.ellipse(
            cx + turn + side * ex, cy + ry * 0.3, rx * 0.18, ry * 0.1, skin * 1.05 + hsv(0.0, 0.6, 0.08)
        )
    c.ellipse(cx + turn - lx * rx * 0.07, cy + ry * 0.22, rx * 0.07, ry * 0.2, skin * 0.78)
    c.ellipse(cx + turn, cy + ry * 0.55, rx * 0.3, ry * 0.07, hsv(0.99, 0.6, rng.uniform(0.45, 0.7)))
    if rng.random() < 0.2:  # a dark hat with a brim
        hat = hsv(rng.uniform(0, 1), 0.4, 0.12)
        c.ellipse(cx, cy - ry * 0.75, rx * 1.6, ry * 0.22, hat)
        c.ellipse(cx, cy - ry * 1.05, rx * 0.95, ry * 0.45, hat, light=light)
    return None  # strokes follow the forms


def paint_flower_still_life(c: Canvas) -> float | None:
    rng = c.rng
    wall_hue = rng.uniform(0, 1)
    # Mostly the dark grounds of Dutch flower pieces, sometimes a lighter wall.
    wall_v = rng.uniform(0.05, 0.2) if rng.random() < 0.7 else rng.uniform(0.35, 0.55)
    wall = hsv(wall_hue, rng.uniform(0.2, 0.6), wall_v)
    c.vertical_gradient([(0.0, wall * 0.8), (0.7, wall * 1.2)])
    c.glow(rng.uniform(0.2, 0.8), 0.3, 0.4, wall * 1.6 + 0.05, 0.4)
    table_y = rng.uniform(0.7, 0.8)
    wood = rng.random() < 0.6
    table = (
        hsv(rng.uniform(0.05, 0.1), 0.6, rng.uniform(0.25, 0.45))
        if wood
        else hsv(rng.uniform(0, 1), 0.35, 0.75)
    )
    c.below_curve(np.full(c.size, table_y, np.float32), table)
    shade = np.clip((c.y - table_y) / (1.0 - table_y), 0, 1) * 0.45
    c.blend(shade, np.zeros(3, np.float32))
    c.rect(0.0, table_y - 0.005, 1.0, table_y + 0.012, table * 1.35)

    cx = 0.5 + rng.uniform(-0.1, 0.1)
    bottom = table_y + rng.uniform(0.04, 0.08)
    top = table_y - rng.uniform(0.2, 0.32)
    neck, belly = rng.uniform(0.035, 0.06), rng.uniform(0.09, 0.15)
    vase = rng.choice(
        [
            hsv(0.6, 0.6, 0.6),
            hsv(0.1, 0.05, 0.88),
            hsv(0.06, 0.65, 0.6),
            hsv(0.35, 0.5, 0.45),
            hsv(0.12, 0.7, 0.7),
        ]
    )
    lx = rng.choice([-1.0, 1.0])
    s = c.size
    iy0, iy1 = int(top * s), min(int(bottom * s) + 1, s)
    X, Y = c.x[iy0:iy1], c.y[iy0:iy1]
    t = np.clip((Y - top) / (bottom - top), 0, 1)
    radius = neck + (belly - neck) * np.clip(np.sin(np.pi * np.clip(t * 1.05, 0, 1)), 0, 1) ** 0.7
    nx = (X - cx) / radius
    a = np.clip((1 - np.abs(nx)) * radius / c.aa, 0, 1)
    factor = 1.0 + 0.45 * np.clip(nx * lx, -1, 1) - 0.2 * np.abs(nx) ** 3
    c.blend(a, vase[None, None, :] * factor[..., None], (iy0, iy1, 0, s))
    c.ellipse(
        cx + lx * belly * 0.4,
        top + (bottom - top) * 0.45,
        belly * 0.12,
        (bottom - top) * 0.2,
        vase * 1.5 + 0.1,
    )

    # Bouquet: leaves under blooms, in a dome above the vase mouth.
    bx, by = cx + rng.uniform(-0.05, 0.05), top - rng.uniform(0.08, 0.16)
    brx, bry = rng.uniform(0.24, 0.34), rng.uniform(0.18, 0.26)
    leaf = hsv(rng.uniform(0.22, 0.36), rng.uniform(0.5, 0.8), rng.uniform(0.25, 0.45))
    for _ in range(int(rng.integers(14, 26))):
        ang = rng.uniform(np.pi * 0.95, np.pi * 2.05)
        rr = rng.uniform(0.5, 1.1)
        lxp, lyp = bx + np.cos(ang) * brx * rr, by + np.sin(ang) * bry * rr * 0.9 + 0.05
        c.ellipse(lxp, lyp, 0.05, 0.017, leaf * rng.uniform(0.7, 1.3), angle=ang, light=(0.0, -1.0, 0.3))
    for _ in range(int(rng.integers(3, 7))):  # stems from the mouth into the bouquet
        ex = bx + rng.uniform(-brx, brx) * 0.7
        for k in np.linspace(0, 1, 12):
            c.ellipse(cx + (ex - cx) * k, top + (by - top) * k, 0.006, 0.006, leaf * 0.9)
    hues = rng.choice([0.0, 0.95, 0.08, 0.13, 0.78, 0.58, 0.9], size=int(rng.integers(2, 4)), replace=False)
    n = int(rng.integers(14, 28))
    for _ in range(n):
        ang = rng.uniform(0, 2 * np.pi)
        rr = np.sqrt(rng.uniform(0, 1))
        fx = bx + np.cos(ang) * brx * rr
        fy = by + np.sin(ang) * bry * rr * (0.6 if np.sin(ang) > 0 else 1.0)
        h = float(rng.choice(hues))
        white = rng.random() < 0.15
        petal = hsv(h, 0.08 if white else rng.uniform(0.55, 0.95), rng.uniform(0.7, 1.0))
        r = rng.uniform(0.035, 0.065)
        c.ellipse(
            fx, fy, r, r * rng.uniform(0.75, 1.0), petal, angle=rng.uniform(0, np.pi), light=(-0.5, -0.8, 0.3)
        )
        c.ellipse(fx, fy, r * 0.55, r * 0.5, petal * 1.15, alpha=0.5)
        c.ellipse(
            fx, fy, r * 0.25, r * 0.25, hsv(0.12, 0.8, 0.75) if rng.random() < 0.5 else hsv(0.1, 0.6, 0.2)
        )
    for _ in range(int(rng.integers(0, 4))):  # fallen petals or fruit on the table
        fr = rng.uniform(0.015, 0.035)
        c.ellipse(
            rng.uniform(0.08, 0.92),
            rng.uniform(table_y + 0.05, 0.95),
            fr * 1.3,
            fr,
            hsv(float(rng.choice(hues)), 0.7, 0.8),
            light=(-0.5, -0.8, 0.35),
        )
    return None


def paint_landscape(c: Canvas) -> float | None:
    rng = c.rng
    mood = rng.choice(["day", "sunset", "overcast", "dawn"])
    horizon = rng.uniform(0.4, 0.58)
    if mood == "day":
        top, low = hsv(0.6, rng.uniform(0.5, 0.75), rng.uniform(0.6, 0.85)), hsv(0.55, 0.2, 0.95)
    elif mood == "sunset":
        top, low = hsv(rng.uniform(0.62, 0.75), 0.6, 0.4), hsv(rng.uniform(0.04, 0.1), 0.75, 0.98)
    elif mood == "overcast":
        top, low = hsv(0.6, 0.12, 0.55), hsv(0.1, 0.1, 0.85)
    else:
        top, low = hsv(0.6, 0.35, 0.7), hsv(0.97, 0.35, 0.95)
    c.vertical_gradient([(0.0, top), (horizon, low), (1.0, low)])
    if mood in ("sunset", "dawn") or rng.random() < 0.3:
        sx, sy = rng.uniform(0.2, 0.8), horizon - rng.uniform(0.04, 0.2)
        c.glow(sx, sy, 0.25, hsv(0.1, 0.5, 1.0), 0.6)
        c.ellipse(sx, sy, 0.045, 0.045, hsv(0.12, 0.3, 1.0))
    cloud = mix(low, np.ones(3, np.float32), 0.6) if mood != "sunset" else hsv(0.03, 0.5, 0.9)
    for _ in range(int(rng.integers(2, 7))):
        px, py = rng.uniform(0, 1), rng.uniform(0.05, horizon - 0.1)
        for _ in range(4):
            c.ellipse(
                px + rng.uniform(-0.08, 0.08),
                py + rng.uniform(-0.02, 0.02),
                rng.uniform(0.06, 0.13),
                rng.uniform(0.02, 0.04),
                cloud,
                alpha=0.55,
                light=(0.0, -1.0, 0.15),
            )
    green = hsv(rng.uniform(0.2, 0.33), rng.uniform(0.4, 0.7), rng.uniform(0.3, 0.5))
    if mood == "sunset":
        green = green * 0.6
    far = mix(green * 0.8 + hsv(0.62, 0.5, 0.3), low, 0.55)
    c.below_curve(c.ridge(horizon + 0.01, rng.uniform(0.06, 0.18), 3), far)
    mid = mix(green, low, 0.25)
    c.below_curve(c.ridge(horizon + 0.04, rng.uniform(0.03, 0.1), 2), mid)

    has_water = rng.random() < 0.7
    shore = horizon + 0.04 + rng.uniform(0.12, 0.3) if has_water else horizon + 0.05
    if has_water:
        water_top = horizon + 0.04
        xs = c.x[0]
        edge = np.full(c.size, water_top, np.float32)
        sky_row = c.img[int(horizon * 0.6 * c.size)]
        refl = np.clip((c.y - edge[None, :]) / c.aa, 0, 1) * np.clip(
            (shore + 0.03 * np.sin(xs * 7 + rng.uniform(0, 6))[None, :] - c.y) / c.aa, 0, 1
        )
        water = mix(top, low, 0.5) * 0.8 if mood != "overcast" else hsv(0.55, 0.2, 0.6)
        c.blend(refl, water[None, None, :] * 0.7 + sky_row[None, :, :] * 0.3)
        # Ripple highlights run horizontally across the water.
        row_on = (c.rng.random(c.size) > 0.75).astype(np.float32)[:, None]
        row_phase = c.rng.uniform(0, 2 * np.pi, c.size).astype(np.float32)[:, None]
        ripples = row_on * np.clip(np.sin(c.x * 25 + row_phase), 0, 1) * refl * 0.35
        c.blend(ripples, mix(low, np.ones(3, np.float32), 0.5))
    ground = hsv(rng.uniform(0.12, 0.28), rng.uniform(0.45, 0.7), rng.uniform(0.35, 0.55))
    g_curve = c.ridge(shore + 0.06, rng.uniform(0.02, 0.08), 2)
    c.below_curve(g_curve, ground)
    c.blend(np.clip((c.y - shore) * 1.5, 0, 1) * 0.5, ground * 0.4)

    # Trees: some far on the shore, a few large ones framing the foreground.
    trees = [(rng.uniform(0, 1), shore + rng.uniform(0.0, 0.04), rng.uniform(0.05, 0.09)) for _ in range(4)]
    for _ in range(int(rng.integers(1, 4))):
        trees.append(
            (
                rng.choice([rng.uniform(-0.05, 0.25), rng.uniform(0.75, 1.05)]),
                rng.uniform(0.85, 1.0),
                rng.uniform(0.18, 0.3),
            )
        )
    foliage = hsv(rng.uniform(0.22, 0.36), rng.uniform(0.5, 0.8), rng.uniform(0.18, 0.35))
    if mood == "sunset":
        foliage = foliage * 0.5
    for tx, ty, th in sorted(trees, key=lambda t: t[2]):
        c.rect(tx - th * 0.04, ty - th * 0.6, tx + th * 0.04, ty, hsv(0.07, 0.6, 0.2))
        if rng.random() < 0.35:  # a conifer
            s = c.size
            box = c._box(tx, ty - th * 0.6, th * 0.3, th * 0.6)
            if box is not None:
                y0, y1, x0, x1 = box
                X, Y = c.x[y0:y1, x0:x1], c.y[y0:y1, x0:x1]
                tip = ty - th * 1.1
                half = np.clip((Y - tip) / th * 0.35, 0, None)
                a = np.clip((half - np.abs(X - tx)) * s, 0, 1) * (Y < ty - th * 0.15)
                c.blend(a, foliage, box)
        else:
            for _ in range(5):
                c.ellipse(
                    tx + rng.uniform(-0.25, 0.25) * th,
                    ty - th * rng.uniform(0.7, 1.0),
                    th * rng.uniform(0.25, 0.38),
                    th * rng.uniform(0.22, 0.32),
                    foliage * rng.uniform(0.8, 1.3),
                    light=(-0.6, -0.8, 0.35),
                )
    return 0.0  # horizontal strokes


def paint_cityscape(c: Canvas) -> float | None:
    rng = c.rng
    mood = rng.choice(["night", "dusk", "day", "dusk"])
    if mood == "night":
        top, low, lit_p = hsv(0.65, 0.7, 0.12), hsv(0.7, 0.5, 0.3), 0.45
    elif mood == "dusk":
        top, low, lit_p = hsv(0.64, 0.6, 0.35), hsv(rng.uniform(0.02, 0.1), 0.7, 0.95), 0.35
    else:
        top, low, lit_p = hsv(0.58, 0.5, 0.8), hsv(0.55, 0.15, 0.95), 0.05
    street_top = rng.uniform(0.68, 0.8)
    c.vertical_gradient([(0.0, top), (street_top, low), (1.0, low)])
    if mood != "day" and rng.random() < 0.6:
        c.ellipse(rng.uniform(0.1, 0.9), rng.uniform(0.08, 0.25), 0.035, 0.035, hsv(0.14, 0.15, 0.97))

    lit = hsv(rng.uniform(0.1, 0.15), rng.uniform(0.5, 0.8), 1.0)
    s = c.size
    for layer in range(2):
        x = rng.uniform(-0.1, 0.0)
        base = (
            hsv(rng.uniform(0.55, 0.7), 0.25, 0.35) if layer == 0 else hsv(rng.uniform(0.0, 0.12), 0.4, 0.3)
        )
        if mood == "day":
            base = base * 1.8
        while x < 1.0:
            w = rng.uniform(0.05, 0.12) if layer == 0 else rng.uniform(0.09, 0.2)
            h = rng.uniform(0.25, 0.5) if layer == 0 else rng.uniform(0.15, 0.42)
            roof = street_top - h
            col = mix(base * rng.uniform(0.7, 1.3), low, 0.45 if layer == 0 else 0.0)
            c.rect(x, roof, x + w, street_top, col)
            kind = rng.random()
            if kind < 0.15:  # dome
                c.ellipse(x + w / 2, roof, w * 0.35, w * 0.3, col * 1.1, light=(-0.6, -0.8, 0.3))
            elif kind < 0.3:  # spire
                box = c._box(x + w / 2, roof - w, w / 2, w)
                if box is not None:
                    y0, y1, x0, x1 = box
                    X, Y = c.x[y0:y1, x0:x1], c.y[y0:y1, x0:x1]
                    half = np.clip((Y - (roof - w * 1.6)) / (w * 1.6) * w * 0.3, 0, None)
                    c.blend(np.clip((half - np.abs(X - x - w / 2)) * s, 0, 1) * (Y <= roof + 0.01), col, box)
            elif kind < 0.45:  # pitched roof
                box = c._box(x + w / 2, roof - w * 0.2, w / 2, w * 0.2)
                if box is not None:
                    y0, y1, x0, x1 = box
                    X, Y = c.x[y0:y1, x0:x1], c.y[y0:y1, x0:x1]
                    half = np.clip((Y - (roof - w * 0.35)) / (w * 0.35) * w * 0.5, 0, None)
                    c.blend(
                        np.clip((half - np.abs(X - x - w / 2)) * s, 0, 1) * (Y <= roof + 0.01), col * 0.8, box
                    )
            # Windows: a grid in the facade, each lit or dark.
            ix0, ix1 = max(int((x + w * 0.12) * s), 0), min(int((x + w * 0.88) * s), s)
            iy0, iy1 = max(int((roof + 0.03) * s), 0), int((street_top - 0.04) * s)
            if ix1 > ix0 and iy1 > iy0:
                gx = (c.x[iy0:iy1, ix0:ix1] - x) * s
                gy = (c.y[iy0:iy1, ix0:ix1] - roof) * s
                px = max(3.0, s * 0.03 * (1.2 if layer else 0.8))
                py = px * 1.3
                win = ((gx % px) < px * 0.5) & ((gy % py) < py * 0.55)
                cell = (gx // px) * 31 + (gy // py) * 17 + x * 1000
                on = np.sin(cell * 12.9898 + layer * 78.233) * 43758.5453 % 1.0 < lit_p
                wcol = np.where(on[..., None], lit, col * 0.45 if mood != "day" else hsv(0.58, 0.3, 0.55))
                c.blend(win.astype(np.float32) * 0.9, wcol, (iy0, iy1, ix0, ix1))
            x += w + rng.uniform(-0.01, 0.02)

    # Street in perspective: road narrowing to a vanishing point, pavements either side.
    street = hsv(0.6, 0.1, 0.22 if mood != "day" else 0.45)
    c.below_curve(np.full(s, street_top, np.float32), street)
    vx = rng.uniform(0.35, 0.65)
    depth = np.clip((c.y - street_top) / (1.0 - street_top), 0, 1)
    road_half = 0.02 + depth * 0.45
    pave = np.clip((np.abs(c.x - vx) - road_half) / c.aa, 0, 1) * (c.y > street_top)
    c.blend(pave, street * 1.6 + 0.05)
    dash = (np.abs(c.x - vx) < 0.004 + depth * 0.012) & ((depth * 12) % 1 < 0.5) & (depth > 0.02)
    c.blend(dash.astype(np.float32) * 0.8, hsv(0.13, 0.3, 0.9))
    # Street lamps with glow, and their reflections on the wet street at night.
    for side in (-1, 1):
        for k in range(int(rng.integers(1, 3))):
            d = rng.uniform(0.3, 1.0) * (0.6 + 0.4 * k)
            lx = vx + side * (0.03 + d * 0.5)
            ly = street_top + d * (1 - street_top) * 0.6
            height = 0.08 + d * 0.25
            c.rect(lx - 0.004, ly - height, lx + 0.004, ly, hsv(0.6, 0.2, 0.15))
            if mood != "day":
                c.glow(lx, ly - height, 0.05 + d * 0.04, lit, 0.7)
                c.ellipse(lx, ly - height, 0.012, 0.012, hsv(0.13, 0.2, 1.0))
                refl = np.exp(-(((c.x - lx) / 0.015) ** 2)) * (c.y > ly) * 0.35
                c.blend(refl, lit)
    return np.pi / 2  # vertical strokes on facades


PAINTERS: dict[str, Callable[[Canvas], float | None]] = {
    "portrait": paint_portrait,
    "flower-still-life": paint_flower_still_life,
    "landscape": paint_landscape,
    "cityscape": paint_cityscape,
}


# ---------------------------------------------------------------------------------------------
# Brushwork


def _box_blur(img: np.ndarray, radius: int) -> np.ndarray:
    """Separable box blur with edge padding (cumulative sums: cost independent of radius)."""
    out = img
    for axis in (0, 1):
        pad = [(0, 0)] * img.ndim
        pad[axis] = (radius + 1, radius)
        cs = np.cumsum(np.pad(out, pad, mode="edge"), axis=axis, dtype=np.float32)
        n = out.shape[axis]
        hi = np.take(cs, np.arange(2 * radius + 1, 2 * radius + 1 + n), axis=axis)
        lo = np.take(cs, np.arange(0, n), axis=axis)
        out = (hi - lo) / (2 * radius + 1)
    return out


def brushwork(c: Canvas, default_angle: float | None) -> None:
    """Over-paint the base with short strokes that follow the forms.

    Each stroke's colour mixes the base under each of its pixels with the colour at its
    centre (so shapes survive) and carries its own lightness and hue jitter plus bristle
    lines; its direction runs along edges, or `default_angle` where the base is flat.
    """
    rng, s = c.rng, c.size
    base = c.img.copy()
    lum = _box_blur(base.mean(axis=2), max(1, s // 64))
    gy, gx = np.gradient(lum)
    strength = np.hypot(gx, gy)
    edge_angle = np.arctan2(gy, gx) + np.pi / 2
    for scale, coverage in ((1.0, 1.1), (0.55, 0.8)):
        length = max(2.0, s * 0.045 * scale)
        width = max(1.0, s * 0.016 * scale)
        n = int(coverage * s * s / (length * width))
        cx = rng.uniform(0, s, n).astype(np.float32)
        cy = rng.uniform(0, s, n).astype(np.float32)
        # float32 can round a draw just below s up to s itself.
        ix, iy = np.minimum(cx.astype(np.int32), s - 1), np.minimum(cy.astype(np.int32), s - 1)
        g = strength[iy, ix]
        flat = np.clip(1.0 - g / (g.mean() * 1.5 + 1e-6), 0, 1)
        # Flat areas: the genre's direction, or a painter's diagonal hatching when it has none.
        flat_angle = rng.uniform(0.5, 1.1, n) if default_angle is None else default_angle
        angle = np.where(flat > 0.5, flat_angle, edge_angle[iy, ix]) + rng.normal(0, 0.35, n)
        k = int(np.ceil(length)) + 1
        m = int(np.ceil(width)) + 1
        t = np.linspace(-length / 2, length / 2, k, dtype=np.float32)
        w = np.linspace(-width / 2, width / 2, m, dtype=np.float32)
        ca, sa = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
        px = cx[:, None, None] + t[None, :, None] * ca - w[None, None, :] * sa
        py = cy[:, None, None] + t[None, :, None] * sa + w[None, None, :] * ca
        px = np.clip(px, 0, s - 1).astype(np.int32)
        py = np.clip(py, 0, s - 1).astype(np.int32)
        under = base[py, px]  # [n, k, m, 3]
        centre = base[iy, ix][:, None, None, :]
        jitter = 1.0 + rng.normal(0, 0.06, (n, 1, 1, 1)).astype(np.float32)
        hue = rng.normal(0, 0.02, (n, 1, 1, 3)).astype(np.float32)
        bristle = 1.0 + rng.normal(0, 0.04, (n, 1, m, 1)).astype(np.float32)
        colour = (under * 0.45 + centre * 0.55) * jitter * bristle + hue
        c.img[py.ravel(), px.ravel()] = colour.reshape(-1, 3)


def finish(c: Canvas) -> np.ndarray:
    """Canvas weave, a light vignette, then 8-bit colour."""
    s = c.size
    freq = np.pi * s / 2.5
    weave = np.sin(c.x * freq) * np.sin(c.y * freq) * 0.025
    grain = c.rng.normal(0, 0.015, (s, s)).astype(np.float32)
    vignette = 1.0 - 0.25 * ((c.x - 0.5) ** 2 + (c.y - 0.5) ** 2) * 2
    img = c.img * ((1.0 + weave + grain) * vignette)[..., None]
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def paint(genre: str, seed: int, size: int = 128) -> Image.Image:
    """Paint one picture of `genre`; the same genre, seed and size always give the same image."""
    if genre not in PAINTERS:
        raise ValueError(f"Unknown genre {genre!r}: choose one of {', '.join(GENRES)}.")
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"Painting size {size} is out of range: choose {MIN_SIZE}..{MAX_SIZE} pixels.")
    entropy = [zlib.crc32(genre.encode()), int(seed) & 0xFFFFFFFF, (int(seed) >> 32) & 0xFFFFFFFF]
    canvas = Canvas(size, np.random.default_rng(np.random.SeedSequence(entropy)))
    default_angle = PAINTERS[genre](canvas)
    np.clip(canvas.img, 0, 1, out=canvas.img)
    brushwork(canvas, default_angle)
    return Image.fromarray(finish(canvas), "RGB")
