"""Rows and image bytes for the scraper tests."""

from __future__ import annotations

import importlib
import io

import numpy as np
from django.apps import apps as django_apps
from django.contrib.auth.models import Group, User
from PIL import Image, ImageDraw

from gallery.models import Genre
from scraper.models import CrawlJob


def painting(width: int = 320, height: int = 256, seed: int = 0) -> Image.Image:
    """Something with the statistics of a picture: gradients, shapes, texture;
    the seed changes the picture."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack(
        [x / width * 200 + 30, y / height * 180 + 40, (x + y) / (width + height) * 150 + 50], -1
    )
    pixels += rng.normal(0, 12, pixels.shape)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(30):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = rng.integers(5, 60, 2)
        draw.ellipse(
            [x0, y0, x0 + int(size[0]), y0 + int(size[1])],
            fill=tuple(int(v) for v in rng.integers(0, 255, 3)),
        )
    return image


def painting_bytes(seed: int = 0, width: int = 320, height: int = 256, fmt: str = "JPEG") -> bytes:
    """Encoded bytes of ``painting``."""
    buffer = io.BytesIO()
    painting(width, height, seed).save(buffer, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def resized_bytes(data: bytes, size: tuple[int, int]) -> bytes:
    image = Image.open(io.BytesIO(data)).convert("RGB").resize(size)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def genre(slug: str = "landscape") -> Genre:
    """The seeded room; recreated when a transactional test has flushed the seed."""
    return Genre.objects.get_or_create(slug=slug, defaults={"name": slug.title(), "search_terms": slug})[0]


def make_job(genre_slug: str = "landscape", source: str = "aic", **fields) -> CrawlJob:
    return CrawlJob.objects.create(source=source, genre=genre(genre_slug), **fields)


def make_item(source_id: str, genre_slug: str = "landscape", **fields) -> dict:
    return {
        "source": "aic",
        "source_id": source_id,
        "image_url": f"https://www.artic.edu/iiif/2/{source_id}/full/843,/0/default.jpg",
        "page_url": f"https://www.artic.edu/artworks/{source_id}",
        "title": f"View of the river {source_id}",
        "artist": "Claude Monet",
        "date": "1880",
        "licence": "CC0",
        "genre": genre_slug,
        **fields,
    }


def ensure_groups() -> None:
    """The Curators and Staff groups as the data migration makes them (a
    transactional test flushes migration data, so later ones rebuild it)."""
    if Group.objects.filter(name="Curators", permissions__isnull=False).exists():
        return
    migration = importlib.import_module("scraper.migrations.0002_curator_and_staff_groups")
    migration.create_groups(django_apps, None)


def make_user(username: str, group: str | None = None, **fields) -> User:
    user = User.objects.create_user(username, password="pw-" + username, is_staff=True, **fields)
    if group:
        ensure_groups()
        user.groups.add(Group.objects.get(name=group))
    return user
