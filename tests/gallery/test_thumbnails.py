"""Images written through storage: full painting, WebP and JPEG thumbnails at two
widths, content-hash names; exhibit pictures; the seed_gallery fixture command."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from PIL import Image

from gallery.models import Artwork, MixingCell, MixingExhibit, MixingSource
from gallery.placeholders import placeholder_painting
from gallery.thumbnails import BandImages, save_artwork_image, save_exhibit_images

from .factories import genre

pytestmark = pytest.mark.django_db


def open_stored(name: str) -> Image.Image:
    with default_storage.open(name) as f:
        image = Image.open(io.BytesIO(f.read()))
        image.load()
        return image


def test_thumbnails_in_both_widths_and_formats(media_root):
    art = save_artwork_image(Artwork(genre=genre(), seed=1), placeholder_painting(1, "portrait", 800))
    assert (art.width, art.height) == (800, 800)
    full = open_stored(art.image.name)
    assert full.format == "PNG" and full.size == (800, 800)
    expected = {
        "thumb_small_webp": ("WEBP", 320),
        "thumb_small_jpeg": ("JPEG", 320),
        "thumb_large_webp": ("WEBP", 640),
        "thumb_large_jpeg": ("JPEG", 640),
    }
    for field, (fmt, width) in expected.items():
        name = getattr(art, field).name
        assert (media_root / name).is_file(), f"{field} was not written under MEDIA_ROOT"
        thumb = open_stored(name)
        assert thumb.format == fmt and thumb.size == (width, width), field
    # The thumbnails show the painting, not something else.
    small = np.asarray(open_stored(art.thumb_small_jpeg.name).convert("RGB"), dtype=np.float32)
    reference = np.asarray(full.convert("RGB").resize((320, 320)), dtype=np.float32)
    assert np.abs(small - reference).mean() < 12


def test_files_are_named_by_content_hash(media_root):
    painting = placeholder_painting(5, "landscape", 400)
    first = save_artwork_image(Artwork(genre=genre("landscape"), seed=5), painting)
    files_after_first = sorted(p for p in media_root.rglob("*") if p.is_file())
    second = save_artwork_image(Artwork(genre=genre("landscape"), seed=6), painting.copy())
    assert second.image.name == first.image.name
    assert second.thumb_large_webp.name == first.thumb_large_webp.name
    assert sorted(p for p in media_root.rglob("*") if p.is_file()) == files_after_first
    other = save_artwork_image(
        Artwork(genre=genre("landscape"), seed=7), placeholder_painting(7, "landscape", 400)
    )
    assert other.image.name != first.image.name
    assert "landscape" not in first.image.name and len(first.image.name.rsplit("/", 1)[1]) == 64 + 4


def test_small_paintings_are_not_upscaled(client):
    art = save_artwork_image(
        Artwork(genre=genre(), seed=2, published=True), placeholder_painting(2, "portrait", 200)
    )
    assert open_stored(art.thumb_large_webp.name).size == (200, 200)
    assert art.thumb_small_size == art.thumb_large_size == (200, 200)
    body = client.get("/rooms/portrait/").content.decode()
    assert " 200w" in body and " 320w" not in body and " 640w" not in body


def test_accepts_engine_arrays_and_names_bad_input():
    array = np.zeros((64, 48, 3), dtype=np.uint8)
    array[:, :24] = 200
    art = save_artwork_image(Artwork(genre=genre(), seed=3), array)
    assert (art.width, art.height) == (48, 64)
    with pytest.raises(ValueError, match=r"uint8 array of shape \[H, W, 3\]"):
        save_artwork_image(Artwork(genre=genre(), seed=4), np.zeros((64, 64), dtype=np.float32))


def test_save_exhibit_images_stores_sources_and_cells(media_root):
    exhibit = MixingExhibit.objects.create(genre=genre(), row_seeds=[1, 2], col_seeds=[3, 4, 5])
    grid = np.zeros((2, 3, 16, 16, 3), dtype=np.uint8)
    for r in range(2):
        for c in range(3):
            grid[r, c] = 40 * r + 10 * c
    rows = np.full((2, 16, 16, 3), 255, dtype=np.uint8)
    cols = np.full((3, 16, 16, 3), 128, dtype=np.uint8)
    bands = [BandImages("coarse", range(0, 4), grid), BandImages("fine", range(8, 14), grid)]
    save_exhibit_images(exhibit, rows, cols, bands)
    assert exhibit.sources.filter(axis=MixingSource.Axis.ROW).count() == 2
    assert list(exhibit.sources.filter(axis=MixingSource.Axis.COL).values_list("seed", flat=True)) == [
        3,
        4,
        5,
    ]
    coarse = exhibit.grids.get(band="coarse")
    assert (coarse.layer_start, coarse.layer_stop, coarse.layer_label) == (0, 4, "layers 0–3")
    cell = MixingCell.objects.get(grid=coarse, row=1, col=2)
    pixel = open_stored(cell.image.name).convert("RGB").getpixel((8, 8))
    assert all(abs(v - 60) <= 3 for v in pixel)
    # Saving again replaces the pictures instead of adding to them.
    save_exhibit_images(exhibit, rows, cols, bands[:1])
    assert exhibit.grids.count() == 1 and MixingCell.objects.filter(grid__exhibit=exhibit).count() == 6


def test_save_exhibit_images_refuses_mismatched_grids():
    exhibit = MixingExhibit.objects.create(genre=genre(), row_seeds=[1, 2], col_seeds=[3])
    rows = np.zeros((2, 8, 8, 3), dtype=np.uint8)
    cols = np.zeros((1, 8, 8, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="must have 2 rows of 1 cells"):
        save_exhibit_images(
            exhibit, rows, cols, [BandImages("coarse", range(4), np.zeros((1, 1, 8, 8, 3), np.uint8))]
        )
    with pytest.raises(ValueError, match="unknown style band 'rough'"):
        save_exhibit_images(
            exhibit, rows, cols, [BandImages("rough", range(4), np.zeros((2, 1, 8, 8, 3), np.uint8))]
        )
    with pytest.raises(ValueError, match="2 row and 1 column seeds"):
        save_exhibit_images(exhibit, rows[:1], cols, [])


def test_seed_gallery_fills_every_room(client):
    call_command("seed_gallery", per_room=3, size=32, rows=2, columns=2, stdout=io.StringIO())
    assert Artwork.objects.published().count() == 12
    exhibit = MixingExhibit.objects.get()
    assert exhibit.published and exhibit.grids.count() == 3
    assert MixingCell.objects.count() == 3 * 2 * 2
    body = client.get("/").content.decode()
    assert body.count("3 paintings") == 4
    assert client.get(f"/exhibits/{exhibit.pk}/").status_code == 200
    assert "Fixture study" in client.get("/rooms/landscape/").content.decode()
