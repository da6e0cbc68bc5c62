"""The image checker on real bytes made here with Pillow."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFilter

from scraper.imagecheck import MAX_PIXELS, ImageRejected, check_image
from tests.scraper.factories import painting


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width × height pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def reopen(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_a_jpeg_painting_is_accepted_and_re_encoded_without_metadata():
    source = painting()
    exif = Image.Exif()
    exif[0x010F] = "Secret Camera Maker"
    data = encode(source, "JPEG", quality=95, exif=exif.tobytes(), comment=b"tracking comment")

    checked = check_image(data, "image/jpeg")

    result = reopen(checked.data)
    assert (checked.width, checked.height) == (320, 256) == result.size
    assert result.format == "JPEG" and result.mode == "RGB"
    assert b"Secret Camera Maker" not in checked.data
    assert b"tracking comment" not in checked.data
    assert not result.getexif()
    assert len(checked.phash) == 16
    assert checked.quality_hints == []
    assert reopen(checked.thumbnail).size == (320, 256)  # already small: kept at its size
    big = check_image(encode(painting(1000, 800), "JPEG"), "image/jpeg")
    assert reopen(big.thumbnail).size == (320, 256)


@pytest.mark.parametrize(
    ("width", "height"),
    [(100_000, 100_000), (7_000, 7_000)],  # far beyond Pillow's own limit; above ours but below Pillow's
)
def test_a_png_header_claiming_huge_dimensions_is_a_decompression_bomb(width, height):
    assert width * height > MAX_PIXELS
    with pytest.raises(ImageRejected) as caught:
        check_image(bomb_png(width, height), "image/png")
    assert caught.value.reason == "decompression_bomb"


def test_a_truncated_jpeg_is_rejected_as_truncated():
    data = encode(painting(), "JPEG", quality=90)
    with pytest.raises(ImageRejected) as caught:
        check_image(data[: len(data) // 2], "image/jpeg")
    assert caught.value.reason == "truncated"


def test_html_served_as_jpeg_is_not_an_image():
    with pytest.raises(ImageRejected) as caught:
        check_image(b"<!DOCTYPE html><html><body>Rate limit exceeded</body></html>", "image/jpeg")
    assert caught.value.reason == "not_an_image"
    assert "image/jpeg" in caught.value.detail


def test_svg_is_not_an_image():
    svg = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="900" height="900"/>'
    with pytest.raises(ImageRejected) as caught:
        check_image(svg, "image/svg+xml")
    assert caught.value.reason == "not_an_image"


def test_random_bytes_are_not_an_image():
    with pytest.raises(ImageRejected) as caught:
        check_image(np.random.default_rng(1).bytes(4096), None)
    assert caught.value.reason == "not_an_image"


def test_formats_outside_the_allow_list_are_refused_before_decoding():
    with pytest.raises(ImageRejected) as caught:
        check_image(encode(painting(), "BMP"), "image/bmp")
    assert caught.value.reason == "format_not_allowed"
    with pytest.raises(ImageRejected) as caught:
        check_image(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\n", "application/postscript")
    assert caught.value.reason == "format_not_allowed"


def test_a_one_pixel_png_is_too_small():
    with pytest.raises(ImageRejected) as caught:
        check_image(encode(Image.new("RGB", (1, 1), "white")), "image/png")
    assert caught.value.reason == "too_small"


def test_bytes_over_the_cap_are_refused_before_decoding():
    data = encode(painting(), "PNG")
    with pytest.raises(ImageRejected) as caught:
        check_image(data, "image/png", max_bytes=len(data) - 1)
    assert caught.value.reason == "too_large"


def test_a_cmyk_jpeg_is_accepted_as_rgb_with_its_colours():
    source = painting()
    checked = check_image(encode(source.convert("CMYK"), "JPEG", quality=95), "image/jpeg")
    result = np.asarray(reopen(checked.data), dtype=np.float64)
    assert result.shape == (256, 320, 3)
    # Same picture, not an inverted or washed-out one.
    assert abs(result.mean() - np.asarray(source, dtype=np.float64).mean()) < 12


def test_a_16_bit_png_is_accepted_with_a_sensible_brightness():
    ramp = np.tile(np.linspace(0, 65535, 300), (200, 1)).astype(np.uint16)  # black to white
    image = Image.fromarray(ramp)
    data = encode(image, "PNG")
    assert reopen(data).mode.startswith("I")  # really 16-bit on disk

    checked = check_image(data, "image/png")

    result = np.asarray(reopen(checked.data).convert("L"), dtype=np.float64)
    assert 110 < result.mean() < 145  # mid-grey on average, not clipped to white
    assert result[:, :10].mean() < 20 and result[:, -10:].mean() > 235


def test_grey_with_alpha_is_composited_on_white():
    grey = Image.new("L", (200, 200), 0)
    alpha = Image.new("L", (200, 200), 0)
    alpha.paste(255, (0, 0, 100, 200))  # left half opaque black, right half transparent
    image = Image.merge("LA", (grey, alpha))

    checked = check_image(encode(image, "PNG"), "image/png")

    result = np.asarray(reopen(checked.data).convert("L"), dtype=np.float64)
    assert result[:, :90].mean() < 10
    assert result[:, 110:].mean() > 245


def test_palette_gif_webp_and_tiff_are_accepted():
    source = painting()
    for fmt in ("GIF", "WEBP", "TIFF"):
        checked = check_image(encode(source, fmt), None)
        assert (checked.width, checked.height) == source.size, fmt


def test_identical_pixels_give_identical_names_and_similar_pictures_similar_hashes():
    source = painting()
    first = check_image(encode(source, "PNG"), None)
    second = check_image(encode(source, "PNG", compress_level=1), None)
    assert first.sha256 == second.sha256

    resized = check_image(encode(source.resize((300, 240)), "JPEG", quality=80), None)
    other = check_image(encode(painting(seed=7)), None)
    assert resized.sha256 != first.sha256
    distance = (int(first.phash, 16) ^ int(resized.phash, 16)).bit_count()
    assert distance <= 6
    assert (int(first.phash, 16) ^ int(other.phash, 16)).bit_count() > 6


def test_quality_hints_flag_but_never_reject():
    source = painting()
    blurred = check_image(encode(source.filter(ImageFilter.GaussianBlur(6))), None)
    assert "blurry" in blurred.quality_hints

    flat = check_image(encode(Image.new("RGB", (300, 300), (120, 30, 30))), None)
    assert "low_information" in flat.quality_hints

    dark = check_image(encode(Image.fromarray((np.asarray(source) * 0.1).astype(np.uint8))), None)
    assert "very_dark" in dark.quality_hints

    light = check_image(encode(Image.fromarray((255 - np.asarray(source) * 0.1).astype(np.uint8))), None)
    assert "very_light" in light.quality_hints

    small_and_wide = check_image(encode(painting(width=500, height=100)), None)
    assert {"too_small", "odd_aspect"} <= set(small_and_wide.quality_hints)

    assert check_image(encode(painting(width=400, height=300)), None).quality_hints == []
