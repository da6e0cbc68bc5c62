"""Check an untrusted image from the network and turn it into clean RGB bytes.

Pure Pillow (plus numpy and imagehash): no Django, so the crawler, the
benchmarks and the tests can use it directly. The order matters: the byte cap
comes before any decoding, the pixel cap before any pixel is decoded, and the
pixels are decoded twice (verify, then load) because Pillow's ``verify()``
leaves the image unusable. Memory is bounded whatever the image's size: JPEGs
are decoded at a reduced scale, everything is cut to MAX_STORED_SIDE before
any copy is made.
"""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
from dataclasses import dataclass, field

import imagehash
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
# 40 megapixels is a 6300 × 6300 painting: more than any museum's web image,
# far less than what a 100-byte PNG header can claim.
MAX_PIXELS = 40_000_000
DEFAULT_MIN_SIDE = 64
# The stored copy's long side at most: twice the largest model (1024 px), so
# a crop for training loses nothing. Larger images are decoded at a reduced
# scale (JPEG's DCT scaling via draft(): 1/2, 1/4, 1/8), so decoding a
# 36-megapixel photograph needs a quarter of its full-size memory or less.
MAX_STORED_SIDE = 2048
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "TIFF")
JPEG_QUALITY = 92
THUMBNAIL_SIZE = 320  # twice the queue's 160 px, sharp on high-density screens

# Quality-hint thresholds. Hints sort the review queue; they never reject.
SMALL_SIDE_HINT = 256  # short side in pixels
ODD_ASPECT_RATIO = 2.0  # long side / short side
DARK_MEAN = 40  # mean luminance 0..255
LIGHT_MEAN = 215
LOW_ENTROPY_BITS = 4.0  # entropy of the 256-bin luminance histogram
FEW_COLOURS = 16  # distinct colours after quantising each channel to 32 levels (a full grey ramp has 32)
BLURRY_LAPLACIAN_VARIANCE = 50.0  # measured on a copy that fits HINT_SIZE
HINT_SIZE = 512

# Formats Pillow could read but we refuse, recognised by their first bytes so
# their (sometimes risky) decoders are never run.
_REFUSED_SIGNATURES = {
    b"%!PS": "EPS",
    b"\xc5\xd0\xd3\xc6": "EPS",
    b"BM": "BMP",
    b"8BPS": "PSD",
    b"\x00\x00\x01\x00": "ICO",
    b"%PDF": "PDF",
    b"\x00\x00\x00\x0cjP  ": "JPEG 2000",
    b"\xff\x4f\xff\x51": "JPEG 2000",
}
_MARKUP_PREFIXES = (b"<?xml", b"<svg", b"<!doctype", b"<html", b"<head", b"<body", b"<!--")


class ImageRejected(Exception):
    """The bytes are not an image we accept. ``reason`` is a short code for
    counting (e.g. "truncated"); ``detail`` says what was wrong with this one."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class CheckedImage:
    data: bytes  # re-encoded, metadata-free RGB JPEG
    width: int
    height: int
    sha256: str  # of ``data``: the file is named by it
    phash: str  # 64-bit perceptual hash, 16 hex digits
    source_format: str
    quality_hints: list[str] = field(default_factory=list)
    thumbnail: bytes = b""  # JPEG, long side THUMBNAIL_SIZE
    extension: str = "jpg"
    content_type: str = "image/jpeg"


def check_image(
    data: bytes,
    content_type: str | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    min_side: int = DEFAULT_MIN_SIDE,
) -> CheckedImage:
    """Validate ``data`` and re-encode it; raise ImageRejected when refused."""
    served_as = f" (served as {content_type})" if content_type else ""
    if len(data) > max_bytes:
        raise ImageRejected("too_large", f"{len(data)} bytes{served_as}, more than the {max_bytes}-byte cap")
    if not data:
        raise ImageRejected("not_an_image", f"empty body{served_as}")
    _refuse_by_signature(data, served_as)

    with warnings.catch_warnings():
        # A DecompressionBombWarning becomes an exception: a bomb never loads.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image = _open(data, served_as)
        source_format = image.format or "unknown"
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise ImageRejected(
                "decompression_bomb",
                f"{source_format} claims {width}×{height} pixels, more than {MAX_PIXELS}{served_as}",
            )
        if min(width, height) < min_side:
            raise ImageRejected(
                "too_small", f"{width}×{height} pixels; the short side must be at least {min_side}"
            )
        _verify(image, source_format, served_as)
        image = _open(data, served_as)
        if source_format == "JPEG":
            # Decode at the smallest DCT scale that is still >= MAX_STORED_SIDE.
            image.draft("RGB", (MAX_STORED_SIDE, MAX_STORED_SIDE))
        _load(image, source_format, served_as)
        image = _bounded(image)

    rgb = to_rgb(ImageOps.exif_transpose(image))
    buffer = io.BytesIO()
    # A fresh image from raw pixels carries no EXIF, ICC, XMP or comments.
    clean = Image.frombytes("RGB", rgb.size, rgb.tobytes())
    clean.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    encoded = buffer.getvalue()
    small = clean.copy()
    # reducing_gap: a fast integer reduction first, then Lanczos on the rest.
    small.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.Resampling.LANCZOS, reducing_gap=3.0)
    thumbnail = io.BytesIO()
    small.save(thumbnail, format="JPEG", quality=85)
    return CheckedImage(
        data=encoded,
        width=clean.width,
        height=clean.height,
        sha256=hashlib.sha256(encoded).hexdigest(),
        # phash looks at a 32×32 reduction, so the 320 px copy gives it the same picture, faster.
        phash=str(imagehash.phash(small)),
        source_format=source_format,
        quality_hints=quality_hints(clean),
        thumbnail=thumbnail.getvalue(),
    )


def _refuse_by_signature(data: bytes, served_as: str) -> None:
    head = data[:512].lstrip().lower()
    if head.startswith(_MARKUP_PREFIXES) or b"<svg" in head or b"<html" in head:
        raise ImageRejected("not_an_image", f"markup (HTML or SVG), not image data{served_as}")
    for signature, name in _REFUSED_SIGNATURES.items():
        if data.startswith(signature):
            raise ImageRejected(
                "format_not_allowed", f"{name}{served_as}; allowed: {', '.join(ALLOWED_FORMATS)}"
            )


_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, TypeError)


def _open(data: bytes, served_as: str) -> Image.Image:
    try:
        return Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected("decompression_bomb", f"{exc}{served_as}") from exc
    except UnidentifiedImageError as exc:
        raise ImageRejected(
            "not_an_image", f"not a {', '.join(ALLOWED_FORMATS)} image{served_as}: {data[:16]!r}"
        ) from exc
    except _DECODE_ERRORS as exc:
        raise ImageRejected("corrupt", f"unreadable header{served_as}: {exc}") from exc


def _verify(image: Image.Image, source_format: str, served_as: str) -> None:
    try:
        image.verify()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected("decompression_bomb", f"{exc}{served_as}") from exc
    except _DECODE_ERRORS as exc:
        raise ImageRejected(
            _decode_reason(exc), f"{source_format} failed verification{served_as}: {exc}"
        ) from exc


def _load(image: Image.Image, source_format: str, served_as: str) -> None:
    try:
        image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected("decompression_bomb", f"{exc}{served_as}") from exc
    except _DECODE_ERRORS as exc:
        raise ImageRejected(
            _decode_reason(exc), f"{source_format} could not be decoded{served_as}: {exc}"
        ) from exc


def _bounded(image: Image.Image) -> Image.Image:
    """``image`` with its long side at most MAX_STORED_SIDE; the full-size
    pixels are released as soon as the smaller copy exists."""
    long_side = max(image.size)
    if long_side <= MAX_STORED_SIDE:
        return image
    factor = -(-long_side // MAX_STORED_SIDE)  # ceiling: the result fits
    if image.mode not in ("L", "LA", "RGB", "RGBA", "CMYK", "I", "F"):  # modes reduce() cannot take
        image = to_rgb(image)
    reduced = image.reduce(factor)
    reduced.info = image.info  # keep EXIF orientation and transparency for what follows
    image.close()
    return reduced


def _decode_reason(exc: Exception) -> str:
    message = str(exc).lower()
    if isinstance(exc, EOFError) or "truncated" in message or "premature" in message or "eof" in message:
        return "truncated"
    return "corrupt"


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB from any mode Pillow gives us: transparency is composited on
    white, 16/32-bit greys are scaled (not clipped) to 8 bits."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return _wide_grey_to_rgb(image)
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode in ("P", "L", "RGB", "1") and "transparency" in image.info
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    # CMYK (Pillow already undoes Adobe's inverted CMYK JPEGs), YCbCr, LAB,
    # HSV, L, 1 and P all have a direct conversion.
    return image.convert("RGB")


def _wide_grey_to_rgb(image: Image.Image) -> Image.Image:
    pixels = np.asarray(image, dtype=np.float64)
    if image.mode == "F":
        top = max(1.0, float(pixels.max()))
    elif image.mode == "I" and pixels.max() > 65535:
        top = float(pixels.max())
    else:
        top = 65535.0  # 16-bit data, whatever container Pillow chose
    grey = np.clip(np.round(pixels * (255.0 / top)), 0, 255).astype(np.uint8)
    return Image.fromarray(grey, mode="L").convert("RGB")


def quality_hints(image: Image.Image) -> list[str]:
    """Cheap signals that help curators sort the queue; never a verdict."""
    hints = []
    short_side, long_side = sorted(image.size)
    if short_side < SMALL_SIDE_HINT:
        hints.append("too_small")
    if long_side / short_side > ODD_ASPECT_RATIO:
        hints.append("odd_aspect")
    small = image.copy()
    small.thumbnail((HINT_SIZE, HINT_SIZE), reducing_gap=3.0)
    grey = small.convert("L")
    luminance = np.asarray(grey, dtype=np.float64)
    mean = float(luminance.mean())
    if mean < DARK_MEAN:
        hints.append("very_dark")
    elif mean > LIGHT_MEAN:
        hints.append("very_light")
    histogram = np.bincount(luminance.astype(np.uint8).ravel(), minlength=256) / luminance.size
    nonzero = histogram[histogram > 0]
    entropy = float(-(nonzero * np.log2(nonzero)).sum())
    quantised = (np.asarray(small, dtype=np.int32) // 8).reshape(-1, 3)
    # One integer per 15-bit colour, counted with bincount (np.unique over rows is ~100× slower).
    packed = (quantised[:, 0] << 10) | (quantised[:, 1] << 5) | quantised[:, 2]
    colours = int(np.count_nonzero(np.bincount(packed, minlength=1 << 15)))
    if entropy < LOW_ENTROPY_BITS or colours < FEW_COLOURS:
        hints.append("low_information")
    centre = luminance[1:-1, 1:-1]
    laplacian = (
        luminance[:-2, 1:-1] + luminance[2:, 1:-1] + luminance[1:-1, :-2] + luminance[1:-1, 2:] - 4 * centre
    )
    # Flat images have no edges at all; "blurry" only means something when
    # there is content to be sharp.
    if "low_information" not in hints and float(laplacian.var()) < BLURRY_LAPLACIAN_VARIANCE:
        hints.append("blurry")
    return hints
