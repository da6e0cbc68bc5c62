"""The packed dataset: many images of any format in, one memory-mappable training file out.

File layout (little-endian, no pickles anywhere)::

    bytes 0..7        magic b"AAGPACK1"
    bytes 8..11       uint32 length L of the JSON header
    bytes 12..12+L    JSON header: resolution, count, num_classes, has_labels, offsets
    ... zero padding up to HEADER_BYTES
    images            uint8 [count, R, R, 3], row-major
    labels            int64 [count] (only when has_labels)
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAGIC = b"AAGPACK1"
HEADER_BYTES = 4096
FORMAT_VERSION = 1
FITS = ("crop", "pad")
PAD_COLOUR = (255, 255, 255)  # the same white that transparent pixels are composited onto


@dataclass
class PackReport:
    out_path: Path
    count: int
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    sha256: str = ""


class ImageRejected(Exception):
    """One input file cannot be used; the message says why (shown in the pack report)."""


def _list_sources(sources: Path | str | Sequence[Path | str]) -> list[Path]:
    if isinstance(sources, (str, Path)):
        root = Path(sources)
        if not root.exists():
            raise FileNotFoundError(
                f"Dataset source {root} does not exist: pass a folder or a list of images."
            )
        if root.is_file():
            return [root]
        # Every regular file counts, so a stray non-image is reported rather than silently ignored.
        return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    return [Path(p) for p in sources]


def _to_rgb(im: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB; transparency is composited onto white."""
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        arr = np.asarray(im, dtype=np.float64)
        # 16-bit greyscale (PNG may open as "I"): map 0..65535 to 0..255.
        arr = np.clip(np.round(arr / 257.0), 0, 255).astype(np.uint8)
        return Image.fromarray(arr).convert("RGB")
    if im.mode == "F":
        arr = np.asarray(im, dtype=np.float64)
        hi = 1.0 if arr.size and float(np.nanmax(arr)) <= 1.0 else 255.0
        arr = np.clip(np.round(np.nan_to_num(arr) / hi * 255), 0, 255).astype(np.uint8)
        return Image.fromarray(arr).convert("RGB")
    has_alpha = im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        im.mode in ("P", "L", "RGB") and "transparency" in im.info
    )
    if has_alpha:
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*PAD_COLOUR, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return im.convert("RGB")


def _fit_square(im: Image.Image, resolution: int, fit: str) -> Image.Image:
    w, h = im.size
    if fit == "crop":
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        im = im.crop((left, top, left + side, top + side))
    else:
        side = max(w, h)
        canvas = Image.new("RGB", (side, side), PAD_COLOUR)
        canvas.paste(im, ((side - w) // 2, (side - h) // 2))
        im = canvas
    if im.size != (resolution, resolution):
        im = im.resize((resolution, resolution), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return im


def load_image(path: Path, resolution: int, fit: str = "crop") -> np.ndarray:
    """One file -> uint8 [R,R,3]; raises ImageRejected with a readable reason."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImageRejected(f"cannot read file: {exc.strerror or exc}") from exc
    if size == 0:
        raise ImageRejected("empty file (0 bytes)")
    with warnings.catch_warnings():
        # A decompression bomb is a rejected input, not a warning to scroll past.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as im:
                im.load()
                im = ImageOps.exif_transpose(im)
                im = _to_rgb(im)
        except UnidentifiedImageError as exc:
            raise ImageRejected("not an image Pillow can read (unknown or wrong format)") from exc
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageRejected(f"decompression bomb: {exc}") from exc
        except (OSError, SyntaxError, ValueError, struct.error) as exc:
            # Pillow reports truncated and corrupt data as OSError / SyntaxError / ValueError.
            raise ImageRejected(f"truncated or corrupt image: {exc}") from exc
    if min(im.size) < 1:
        raise ImageRejected(f"image has no pixels ({im.size[0]}x{im.size[1]})")
    return np.asarray(_fit_square(im, resolution, fit), dtype=np.uint8)


def pack_images(
    sources: Path | Sequence[Path],
    out_path: Path,
    resolution: int,
    fit: str = "crop",
    mirror: bool = False,
    labels: Sequence[int] | None = None,
    progress: Callable[[int, int], None] | None = None,
    num_classes: int | None = None,
) -> PackReport:
    """Pack images into one training file; unreadable inputs are skipped and listed with the reason.

    ``progress(done, total)`` is called after every input file. ``mirror`` stores an x-flipped
    copy of every image too. ``labels`` (one int per source path) make a class-conditional set.
    """
    if resolution < 4 or resolution & (resolution - 1):
        raise ValueError(f"pack_images resolution={resolution} must be a power of two (e.g. 256).")
    if fit not in FITS:
        raise ValueError(f"pack_images fit={fit!r} is unknown: choose 'crop' or 'pad'.")
    paths = _list_sources(sources)
    if labels is not None:
        labels = [int(x) for x in labels]
        if isinstance(sources, (str, Path)):
            raise ValueError("pack_images labels need an explicit list of paths, not a folder.")
        if len(labels) != len(paths):
            raise ValueError(
                f"pack_images got {len(labels)} labels for {len(paths)} images: give one per image."
            )
        if any(x < 0 for x in labels):
            raise ValueError("pack_images labels must be non-negative class indices.")
        n_cls = num_classes if num_classes is not None else (max(labels) + 1 if labels else 0)
        if labels and max(labels) >= n_cls:
            raise ValueError(f"pack_images label {max(labels)} is out of range for num_classes={n_cls}.")
    else:
        n_cls = 0
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = out_path.with_name(f".{out_path.name}.tmp-{os.getpid()}")
    skipped: list[tuple[str, str]] = []
    kept_labels: list[int] = []
    count = 0
    try:
        with open(tmp_path, "wb") as f:
            f.write(b"\0" * HEADER_BYTES)
            for i, path in enumerate(paths):
                try:
                    arr = load_image(path, resolution, fit)
                except ImageRejected as exc:
                    skipped.append((str(path), str(exc)))
                else:
                    copies = [arr, arr[:, ::-1]] if mirror else [arr]
                    for copy in copies:
                        f.write(np.ascontiguousarray(copy).tobytes())
                        count += 1
                        if labels is not None:
                            kept_labels.append(labels[i])
                if progress is not None:
                    progress(i + 1, len(paths))
            if count == 0:
                raise ValueError(
                    f"pack_images found no usable image among {len(paths)} file(s) in {sources}; "
                    f"first problems: {skipped[:3]}"
                )
            labels_offset = None
            if labels is not None:
                labels_offset = f.tell()
                f.write(np.asarray(kept_labels, dtype="<i8").tobytes())
            header = {
                "format_version": FORMAT_VERSION,
                "resolution": resolution,
                "count": count,
                "num_classes": n_cls,
                "has_labels": labels is not None,
                "images_offset": HEADER_BYTES,
                "labels_offset": labels_offset,
                "mirror": mirror,
                "fit": fit,
            }
            blob = json.dumps(header).encode()
            if len(blob) + 12 > HEADER_BYTES:
                raise ValueError("pack_images header too large")  # cannot happen with the fields above
            f.seek(0)
            f.write(MAGIC + struct.pack("<I", len(blob)) + blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, out_path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
    return PackReport(out_path=out_path, count=count, skipped=skipped, sha256=file_sha256(out_path))


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


class PackedDataset:
    """Reads a packed file through a read-only memory map: ``ds[i] -> (uint8 [R,R,3], label)``.

    ``label`` is -1 for an unconditional dataset.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            with open(self.path, "rb") as f:
                head = f.read(HEADER_BYTES)
        except OSError as exc:
            raise FileNotFoundError(f"Cannot open packed dataset {self.path}: {exc}") from exc
        if head[:8] != MAGIC:
            raise ValueError(
                f"{self.path} is not a packed dataset (bad magic); create one with `python -m training pack`."
            )
        (length,) = struct.unpack("<I", head[8:12])
        self.header = json.loads(head[12 : 12 + length])
        if self.header.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{self.path} has format version {self.header.get('format_version')}; expected 1."
            )
        self.resolution: int = int(self.header["resolution"])
        self.count: int = int(self.header["count"])
        self.num_classes: int = int(self.header["num_classes"])
        r = self.resolution
        expected = (
            HEADER_BYTES + self.count * r * r * 3 + (8 * self.count if self.header["has_labels"] else 0)
        )
        actual = self.path.stat().st_size
        if actual != expected:
            raise ValueError(
                f"{self.path} is {actual} bytes but its header promises {expected}: the file is truncated "
                "or damaged; pack the dataset again."
            )
        self.images = np.memmap(
            self.path, dtype=np.uint8, mode="r", offset=HEADER_BYTES, shape=(self.count, r, r, 3)
        )
        if self.header["has_labels"]:
            self.labels = np.memmap(
                self.path,
                dtype="<i8",
                mode="r",
                offset=int(self.header["labels_offset"]),
                shape=(self.count,),
            )
        else:
            self.labels = None

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        label = int(self.labels[i]) if self.labels is not None else -1
        return np.asarray(self.images[i]), label

    def batch(self, indices: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """uint8 [N,R,R,3] and int64 [N] labels (None when unconditional) for the given indices."""
        idx = np.asarray(indices, dtype=np.int64)
        labels = np.asarray(self.labels[idx]) if self.labels is not None else None
        return np.asarray(self.images[idx]), labels


# A share of every packed dataset is never trained on, so a run's quality report compares
# its generator with paintings it has not seen (and can tell learning from copying).
HELD_OUT_FRACTION = 0.1
HELD_OUT_MAX = 1000
HELD_OUT_MIN = 8  # fewer held-out images are no basis for a measurement: then none are held out
HELD_OUT_SEED = 20260  # fixed, so every run on one pack holds out the same images


def held_out_split(dataset: PackedDataset) -> tuple[np.ndarray, np.ndarray]:
    """``(training indices, held-out indices)`` of a packed dataset, both sorted.

    One image in ten (at most ``HELD_OUT_MAX``), drawn with a fixed seed, separately per
    class for a labelled set, so each class keeps its share. A pack made with ``--mirror``
    stores each image next to its mirror copy: the pair is held out or trained on together.
    A dataset (or class) too small to spare ``HELD_OUT_MIN`` images holds none out.
    """
    unit = 2 if dataset.header.get("mirror") and dataset.count % 2 == 0 else 1
    units = np.arange(dataset.count // unit)
    groups = (
        [units]
        if dataset.labels is None
        else [units[np.asarray(dataset.labels[units * unit]) == c] for c in np.unique(dataset.labels)]
    )
    share = min(HELD_OUT_FRACTION, HELD_OUT_MAX / max(len(units), 1))
    rng = np.random.RandomState(HELD_OUT_SEED)
    held_units = []
    for group in groups:
        count = int(len(group) * unit * share) // unit
        if count * unit >= HELD_OUT_MIN:
            held_units.append(np.sort(rng.permutation(group)[:count]))
    held_units_all = np.concatenate(held_units) if held_units else np.zeros(0, dtype=np.int64)
    held = (held_units_all[:, None] * unit + np.arange(unit)[None, :]).ravel()
    mask = np.ones(dataset.count, dtype=bool)
    mask[held] = False
    return np.flatnonzero(mask), np.sort(held)
