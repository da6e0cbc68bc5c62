"""Writing gallery images to storage: full paintings, their thumbnails, and
the pictures of mixing exhibits.

Files are named by the SHA-256 of their bytes, so the same painting saved
twice is stored once and a name never leaks where an image came from. Writes
go through Django's default storage (local disk or S3).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from PIL import Image

from .models import (
    THUMB_LARGE_WIDTH,
    THUMB_SMALL_WIDTH,
    Artwork,
    MixingCell,
    MixingExhibit,
    MixingGrid,
    MixingSource,
    StyleBand,
)

ImageLike = Image.Image | np.ndarray

JPEG_QUALITY = 88
WEBP_QUALITY = 82


def to_rgb_image(image: ImageLike) -> Image.Image:
    """A PIL RGB image from a PIL image or a uint8 array [H, W, 3] (the engine's output)."""
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(
                f"expected a uint8 array of shape [H, W, 3], got {image.dtype} {image.shape}: "
                "convert the generator output with generate_images() first."
            )
        return Image.fromarray(image, mode="RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


def encode(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    if fmt == "PNG":
        image.save(buffer, "PNG", optimize=True)
    elif fmt == "JPEG":
        image.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    elif fmt == "WEBP":
        image.save(buffer, "WEBP", quality=WEBP_QUALITY, method=4)
    else:
        raise ValueError(f"unsupported image format {fmt!r}: use PNG, JPEG or WEBP.")
    return buffer.getvalue()


def store_bytes(folder: str, data: bytes, extension: str) -> str:
    """Save ``data`` under a content-hash name in ``folder``; return the storage name."""
    digest = hashlib.sha256(data).hexdigest()
    name = f"{folder}/{digest[:2]}/{digest}.{extension}"
    if default_storage.exists(name):
        return name
    return default_storage.save(name, ContentFile(data))


def resized_to_width(image: Image.Image, width: int) -> Image.Image:
    """``image`` scaled down to ``width`` pixels wide (never up), aspect kept."""
    if image.width <= width:
        return image
    height = max(1, round(image.height * width / image.width))
    return image.resize((width, height), Image.Resampling.LANCZOS)


def save_artwork_image(artwork: Artwork, pil_image: ImageLike) -> Artwork:
    """Store the painting as PNG plus WebP and JPEG thumbnails at two widths,
    fill ``artwork``'s image fields and size, and save the row."""
    image = to_rgb_image(pil_image)
    artwork.image.name = store_bytes("artworks", encode(image, "PNG"), "png")
    artwork.width, artwork.height = image.size
    for size, width in (("small", THUMB_SMALL_WIDTH), ("large", THUMB_LARGE_WIDTH)):
        thumb = resized_to_width(image, width)
        getattr(artwork, f"thumb_{size}_webp").name = store_bytes(
            "artworks/thumbs", encode(thumb, "WEBP"), "webp"
        )
        getattr(artwork, f"thumb_{size}_jpeg").name = store_bytes(
            "artworks/thumbs", encode(thumb, "JPEG"), "jpg"
        )
    artwork.save()
    return artwork


@dataclass
class BandImages:
    """The mixed paintings of one style band: ``cells[row][col]`` takes row
    source A's styles with column source B's styles in ``layers``."""

    band: str
    layers: range
    cells: Sequence[Sequence[ImageLike]] | np.ndarray
    figure: ImageLike | None = None


def save_exhibit_images(
    exhibit: MixingExhibit,
    row_images: Sequence[ImageLike] | np.ndarray,
    col_images: Sequence[ImageLike] | np.ndarray,
    bands: Sequence[BandImages],
    row_artworks: Mapping[int, Artwork] | None = None,
    col_artworks: Mapping[int, Artwork] | None = None,
) -> MixingExhibit:
    """Store an exhibit's source paintings (A rows, B columns) and each band's
    cells and figure, replacing any the exhibit had. ``exhibit`` must be saved
    and its ``row_seeds``/``col_seeds`` must match the images."""
    if exhibit.pk is None:
        raise ValueError("save the MixingExhibit before storing its images.")
    if len(row_images) != len(exhibit.row_seeds) or len(col_images) != len(exhibit.col_seeds):
        raise ValueError(
            f"exhibit {exhibit.pk} has {len(exhibit.row_seeds)} row and {len(exhibit.col_seeds)} column seeds "
            f"but got {len(row_images)} row and {len(col_images)} column images."
        )
    valid_bands = set(StyleBand.values)
    for band in bands:
        if band.band not in valid_bands:
            raise ValueError(f"unknown style band {band.band!r}: use one of {sorted(valid_bands)}.")
        if len(band.cells) != len(row_images) or any(len(row) != len(col_images) for row in band.cells):
            raise ValueError(
                f"the {band.band} grid must have {len(row_images)} rows of {len(col_images)} cells."
            )

    def stored_jpeg(image: ImageLike) -> str:
        return store_bytes("exhibits", encode(to_rgb_image(image), "JPEG"), "jpg")

    # Encode and write files before the transaction: storage writes are slow
    # and content-hash names make a retry harmless.
    sources = []
    for axis, images, seeds, artworks in (
        (MixingSource.Axis.ROW, row_images, exhibit.row_seeds, row_artworks or {}),
        (MixingSource.Axis.COL, col_images, exhibit.col_seeds, col_artworks or {}),
    ):
        for position, (image, seed) in enumerate(zip(images, seeds, strict=True)):
            sources.append(
                MixingSource(
                    exhibit=exhibit,
                    axis=axis,
                    position=position,
                    seed=seed,
                    image=stored_jpeg(image),
                    artwork=artworks.get(position),
                )
            )
    grids = []
    for band in bands:
        figure = ""
        if band.figure is not None:
            figure = store_bytes("exhibits", encode(to_rgb_image(band.figure), "PNG"), "png")
        names = [[stored_jpeg(cell) for cell in row] for row in band.cells]
        grids.append((band, figure, names))

    with transaction.atomic():
        exhibit.sources.all().delete()
        exhibit.grids.all().delete()
        MixingSource.objects.bulk_create(sources)
        for band, figure, names in grids:
            grid = MixingGrid.objects.create(
                exhibit=exhibit,
                band=band.band,
                layer_start=band.layers.start,
                layer_stop=band.layers.stop,
                figure=figure,
            )
            MixingCell.objects.bulk_create(
                MixingCell(grid=grid, row=r, col=c, image=name)
                for r, row in enumerate(names)
                for c, name in enumerate(row)
            )
    return exhibit
