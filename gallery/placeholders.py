"""Placeholder paintings drawn with PIL, and a placeholder mixing exhibit
made of them, for fixtures and tests.

They let the museum be walked before any model is trained. Each is fully
determined by its seed and room, and carries a small "FIXTURE" mark so it is
never mistaken for a generated painting.
"""

from __future__ import annotations

import random

import numpy as np
from PIL import Image, ImageDraw, ImageFont

PALETTES = [
    [(46, 64, 87), (203, 179, 136), (148, 82, 59), (236, 223, 200)],
    [(61, 90, 70), (214, 160, 90), (120, 40, 50), (240, 230, 210)],
    [(90, 70, 110), (230, 190, 150), (60, 110, 140), (245, 235, 220)],
    [(110, 60, 40), (190, 150, 80), (50, 80, 60), (235, 220, 190)],
]


def vertical_gradient(size: int, top: tuple[int, int, int], bottom: tuple[int, int, int]) -> Image.Image:
    t = np.linspace(0.0, 1.0, size, dtype=np.float32)[:, None, None]
    rows = (1 - t) * np.array(top, np.float32) + t * np.array(bottom, np.float32)
    return Image.fromarray(np.broadcast_to(rows, (size, size, 3)).astype(np.uint8), mode="RGB")


def placeholder_painting(seed: int, room: str = "", size: int = 256) -> Image.Image:
    """A square placeholder painting for ``room`` (a genre slug), drawn from ``seed``."""
    rng = random.Random(f"{room}:{seed}")
    dark, warm, accent, light = rng.choice(PALETTES)
    image = vertical_gradient(size, light if "landscape" in room else dark, warm)
    draw = ImageDraw.Draw(image)
    s = size / 256
    if "portrait" in room:
        cx = size * rng.uniform(0.4, 0.6)
        draw.ellipse([cx - 90 * s, 170 * s, cx + 90 * s, 330 * s], fill=accent)
        draw.ellipse([cx - 45 * s, 60 * s, cx + 45 * s, 170 * s], fill=light)
    elif "flower" in room:
        draw.rectangle([0, 200 * s, size, size], fill=dark)
        draw.polygon(
            [(100 * s, 210 * s), (156 * s, 210 * s), (145 * s, 140 * s), (111 * s, 140 * s)], fill=warm
        )
        for _ in range(rng.randint(5, 9)):
            x, y, r = rng.uniform(70, 186) * s, rng.uniform(50, 130) * s, rng.uniform(12, 24) * s
            draw.ellipse([x - r, y - r, x + r, y + r], fill=rng.choice([accent, light, warm]))
    elif "city" in room:
        x = 0.0
        while x < size:
            w, h = rng.uniform(18, 44) * s, rng.uniform(60, 170) * s
            draw.rectangle([x, size - h, x + w, size], fill=rng.choice([dark, accent]))
            x += w + 2 * s
    else:
        for band in range(3):
            base = (120 + band * 40 + rng.uniform(-15, 15)) * s
            points = [(0, size)] + [(x * s, base + rng.uniform(-20, 20) * s) for x in range(0, 257, 32)]
            draw.polygon([*points, (size, size)], fill=[dark, accent, warm][band])
    font = ImageFont.load_default(size=max(6, round(11 * s)))
    draw.text((6 * s, size - 16 * s), "FIXTURE", fill=light, font=font)
    return image


# The 256-px layer split (14 ws), and how much of source B shows through in
# each band's placeholder cells (coarse styles carry the most of B).
PLACEHOLDER_BANDS = {"coarse": range(0, 4), "middle": range(4, 8), "fine": range(8, 14)}
PLACEHOLDER_BLEND = {"coarse": 0.65, "middle": 0.4, "fine": 0.2}


def placeholder_exhibit(
    genre,
    rows: int,
    columns: int,
    size: int,
    published: bool = True,
    title: str = "Fixture style mixing",
    first_row_seed: int = 100,
    first_col_seed: int = 200,
):
    """A MixingExhibit with placeholder sources and three bands of blended cells in storage."""
    from .models import MixingExhibit
    from .thumbnails import BandImages, save_exhibit_images

    exhibit = MixingExhibit.objects.create(
        genre=genre,
        title=title,
        row_seeds=list(range(first_row_seed, first_row_seed + rows)),
        col_seeds=list(range(first_col_seed, first_col_seed + columns)),
        psi=0.7,
        published=published,
    )
    row_images = [placeholder_painting(seed, genre.slug, size) for seed in exhibit.row_seeds]
    col_images = [placeholder_painting(seed, genre.slug, size) for seed in exhibit.col_seeds]
    bands = [
        BandImages(
            band=band,
            layers=layers,
            cells=[[Image.blend(a, b, PLACEHOLDER_BLEND[band]) for b in col_images] for a in row_images],
        )
        for band, layers in PLACEHOLDER_BANDS.items()
    ]
    return save_exhibit_images(exhibit, row_images, col_images, bands)
