"""One fixed feature space for judging paintings: no download, deterministic, interpretable.

Quality figures (precision, recall, diversity, near duplicates, copies) need a
distance between two paintings that follows what a visitor sees. Pretrained
networks (Inception, VGG, CLIP) would need weights this project cannot fetch,
so the space is built by hand from four blocks, each computed on the picture
resized to ``FEATURE_SIZE`` px in CIE Lab colour:

- **layout**: an 8x8 Lab thumbnail, where the picture is light, dark and
  which colour (a head on shoulders, a horizon, a skyline);
- **palette**: a 6x6x6 joint Lab colour histogram (Hellinger-mapped), which
  colours the picture uses, wherever they are;
- **structure**: gradient-orientation histograms (8 unsigned directions) on a
  4x4, 2x2 and 1x1 grid of cells at 64, 32 and 16 px: where the edges run
  (vertical facades, horizontal water, round petals);
- **texture**: the mean gradient energy at those three scales (log), so
  speckle and blur move a picture away from the brushwork it should have.

Each block is scaled by a fixed constant so that a typical painting's block has
about unit length, weighted by ``BLOCK_WEIGHTS``, concatenated, and the whole
vector is L2-normalised: distances lie in [0, 2]. The same image always gives
the same vector on any machine (float32 CPU arithmetic, no randomness).
``docs/quality.md`` says why this space and how well it separates the genres.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from training.engine.metrics import check_images

FEATURE_SIZE = 64  # every picture is compared at this size, whatever its own
MIN_SIZE = 16
THUMB = 8
COLOUR_BINS = 6
ORIENTATIONS = 8
HOG_GRIDS = ((64, 4), (32, 2), (16, 1))  # (scale in px, cells per side)
# Relative say of each block in a distance. Structure tells the genres apart best (alone: 100%
# nearest-neighbour, 99% nearest-centroid accuracy), so it counts double; layout and palette
# carry what a visitor sees vary within a genre (a background's colour, a horizon's height);
# texture is a 3-vector that mainly flags speckle, so it counts less. docs/quality.md has figures.
BLOCK_WEIGHTS = {"layout": 1.0, "palette": 1.0, "structure": 2.0, "texture": 0.5}
# Fixed ranges of the Lab histogram: L in 0..100, a and b clipped to +-LAB_AB_RANGE.
LAB_AB_RANGE = 60.0
# log mean gradient energy of a typical painting at 64 px is around -3; this centres and scales it.
TEXTURE_CENTRE = -3.0
TEXTURE_SCALE = 1.5
_BATCH = 256

_RGB_TO_XYZ = torch.tensor(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
)
_WHITE = torch.tensor([0.95047, 1.0, 1.08883])


def feature_dim() -> int:
    """The length D of every feature vector."""
    layout = 3 * THUMB * THUMB
    palette = COLOUR_BINS**3
    structure = sum(cells * cells * ORIENTATIONS for _, cells in HOG_GRIDS)
    texture = len(HOG_GRIDS)
    return layout + palette + structure + texture


def _rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB in [0, 1], NCHW -> CIE Lab (D65): L in 0..100, a and b roughly -100..100."""
    linear = torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = torch.einsum("ij,njhw->nihw", _RGB_TO_XYZ, linear) / _WHITE.view(1, 3, 1, 1)
    eps = (6 / 29) ** 3
    f = torch.where(xyz > eps, xyz.clamp_min(eps) ** (1 / 3), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    L = 116 * f[:, 1] - 16
    a = 500 * (f[:, 0] - f[:, 1])
    b = 200 * (f[:, 1] - f[:, 2])
    return torch.stack([L, a, b], dim=1)


def _layout(lab: torch.Tensor) -> torch.Tensor:
    thumb = F.adaptive_avg_pool2d(lab, THUMB)
    scaled = torch.stack([(thumb[:, 0] - 50) / 50, thumb[:, 1] / 50, thumb[:, 2] / 50], dim=1)
    return scaled.flatten(1) / math.sqrt(scaled[0].numel())


def _palette(lab: torch.Tensor) -> torch.Tensor:
    n = lab.shape[0]
    L = (lab[:, 0] / 100).clamp(0, 1 - 1e-6)
    a = ((lab[:, 1] + LAB_AB_RANGE) / (2 * LAB_AB_RANGE)).clamp(0, 1 - 1e-6)
    b = ((lab[:, 2] + LAB_AB_RANGE) / (2 * LAB_AB_RANGE)).clamp(0, 1 - 1e-6)
    k = COLOUR_BINS
    index = ((L * k).long() * k + (a * k).long()) * k + (b * k).long()
    hist = torch.zeros(n, k**3).scatter_add_(1, index.flatten(1), torch.ones(n, index[0].numel()))
    # Hellinger mapping: sqrt of a distribution has unit length, and L2 between two is a fair distance.
    return (hist / index[0].numel()).sqrt()


def _gradients(lightness: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Central differences of [N,1,H,W] lightness (edges replicated): magnitude and orientation."""
    padded = F.pad(lightness, (1, 1, 1, 1), mode="replicate")
    gx = (padded[:, :, 1:-1, 2:] - padded[:, :, 1:-1, :-2]) / 2
    gy = (padded[:, :, 2:, 1:-1] - padded[:, :, :-2, 1:-1]) / 2
    return torch.sqrt(gx * gx + gy * gy), torch.atan2(gy, gx)


def _structure_and_texture(lab: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    lightness = lab[:, :1] / 100
    blocks, energies = [], []
    for size, cells in HOG_GRIDS:
        level = lightness if size == lightness.shape[-1] else F.adaptive_avg_pool2d(lightness, size)
        mag, angle = _gradients(level)
        # Unsigned orientation in [0, ORIENTATIONS), each pixel's energy split between its two nearest bins.
        pos = (angle % math.pi) / math.pi * ORIENTATIONS
        low = pos.floor()
        frac = pos - low
        low_bin = low.long() % ORIENTATIONS
        high_bin = (low_bin + 1) % ORIENTATIONS
        n = lab.shape[0]
        per_bin = torch.zeros(n, ORIENTATIONS, size, size)
        per_bin.scatter_add_(1, low_bin, mag * (1 - frac))
        per_bin.scatter_add_(1, high_bin, mag * frac)
        hist = F.adaptive_avg_pool2d(per_bin, cells).flatten(1)  # [N, 8 * cells^2]
        total = hist.sum(dim=1, keepdim=True)
        blocks.append((hist / total.clamp_min(1e-8)).sqrt())  # unit length per scale (Hellinger)
        energies.append(torch.log(mag.mean(dim=(1, 2, 3)) + 1e-4))
    structure = torch.cat(blocks, dim=1) / math.sqrt(len(HOG_GRIDS))
    texture = (torch.stack(energies, dim=1) - TEXTURE_CENTRE) / TEXTURE_SCALE / math.sqrt(len(HOG_GRIDS))
    return structure, texture


def _check(images: torch.Tensor) -> None:
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] != 3:
        got = f"{list(images.shape)}" if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"embed expects a float tensor [N, 3, H, W] in [-1, 1], got {got}.")
    if not images.is_floating_point():
        raise ValueError(
            f"embed expects floats in [-1, 1], got {images.dtype}; for uint8 pictures use embed_uint8."
        )
    if min(images.shape[2:]) < MIN_SIZE:
        raise ValueError(
            f"embed needs pictures of at least {MIN_SIZE}x{MIN_SIZE} px, got {images.shape[2]}x{images.shape[3]}."
        )


def _weighted_blocks(lab: torch.Tensor) -> dict[str, torch.Tensor]:
    """The four blocks of 64-px Lab pictures, each weighted, in the vector's order."""
    structure, texture = _structure_and_texture(lab)
    return {
        "layout": BLOCK_WEIGHTS["layout"] * _layout(lab),
        "palette": BLOCK_WEIGHTS["palette"] * _palette(lab),
        "structure": BLOCK_WEIGHTS["structure"] * structure,
        "texture": BLOCK_WEIGHTS["texture"] * texture,
    }


def blocks_uint8(images: np.ndarray) -> dict[str, torch.Tensor]:
    """Each block of ``embed_uint8``'s vectors on its own, weighted but not normalised, for
    asking which block a measure turns on. uint8 ``[N, 64, 64, 3]`` pictures."""
    check_images("blocks_uint8 images", images)
    if images.shape[1:3] != (FEATURE_SIZE, FEATURE_SIZE):
        raise ValueError(
            f"blocks_uint8 needs {FEATURE_SIZE}x{FEATURE_SIZE} pictures, got {images.shape[1:3]}."
        )
    rgb = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        return _weighted_blocks(_rgb_to_lab(rgb))


def embed(images: torch.Tensor) -> torch.Tensor:
    """Feature vectors of pictures: float32 ``[N, D]`` on the CPU, each of unit L2 length.

    ``images``: float ``[N, 3, H, W]`` RGB in ``[-1, 1]`` (the generator's output
    range: -1 is black, 1 is white, as ``generate._to_uint8`` maps them), any
    H, W >= 16, on any device. Pictures are resized to 64x64 (area-averaged when
    shrinking) before the features are taken, so sizes can be mixed freely
    between calls; a non-square picture is squashed (``embed_pictures`` crops first).
    """
    _check(images)
    out = []
    with torch.no_grad():
        for start in range(0, images.shape[0], _BATCH):
            batch = images[start : start + _BATCH].detach().to("cpu", torch.float32)
            rgb = ((batch + 1) / 2).clamp(0, 1)
            if rgb.shape[2:] != (FEATURE_SIZE, FEATURE_SIZE):
                rgb = F.interpolate(
                    rgb,
                    size=(FEATURE_SIZE, FEATURE_SIZE),
                    mode="bilinear",
                    antialias=True,
                    align_corners=False,
                ).clamp(0, 1)
            parts = _weighted_blocks(_rgb_to_lab(rgb))
            out.append(F.normalize(torch.cat(list(parts.values()), dim=1), dim=1))
    if not out:
        return torch.zeros(0, feature_dim())
    return torch.cat(out)


def embed_uint8(images: np.ndarray) -> torch.Tensor:
    """``embed`` for uint8 ``[N, H, W, 3]`` arrays (packed datasets, ``generate_images`` output)."""
    check_images("embed_uint8 images", images, allow_empty=True)
    out = []
    for start in range(0, images.shape[0], _BATCH):
        batch = torch.from_numpy(np.ascontiguousarray(images[start : start + _BATCH]))
        out.append(embed(batch.permute(0, 3, 1, 2).float() / 127.5 - 1))
    return torch.cat(out) if out else torch.zeros(0, feature_dim())


def picture_array(picture: Image.Image | np.ndarray) -> np.ndarray:
    """One picture (PIL image of any mode, or uint8 [H, W, 3]) as uint8 64x64x3, centre-cropped
    to a square first, as ``python -m training pack`` fits a training image."""
    if isinstance(picture, np.ndarray):
        if picture.dtype != np.uint8 or picture.ndim != 3 or picture.shape[2] != 3:
            raise ValueError(
                f"a picture array must be uint8 [H, W, 3], got {picture.dtype} {list(picture.shape)}."
            )
        im = Image.fromarray(picture, "RGB")
    elif isinstance(picture, Image.Image):
        im = picture if picture.mode == "RGB" else picture.convert("RGB")
    else:
        raise ValueError(f"a picture must be a PIL image or a uint8 array, got {type(picture).__name__}.")
    w, h = im.size
    if min(w, h) < MIN_SIZE:
        raise ValueError(f"a picture of {w}x{h} px is too small to compare: at least {MIN_SIZE} px a side.")
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    im = im.crop((left, top, left + side, top + side))
    if side != FEATURE_SIZE:
        im = im.resize((FEATURE_SIZE, FEATURE_SIZE), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return np.asarray(im, dtype=np.uint8)


def embed_pictures(pictures: Sequence[Image.Image | np.ndarray]) -> torch.Tensor:
    """``embed`` for PIL images or uint8 [H, W, 3] arrays of any sizes (stored scraped images,
    artwork files): each is centre-cropped to a square and resized to 64 px first."""
    if len(pictures) == 0:
        return torch.zeros(0, feature_dim())
    return embed_uint8(np.stack([picture_array(p) for p in pictures]))


def glance_uint8(images: np.ndarray) -> torch.Tensor:
    """What a visitor sees of each picture from across the room: 64-px uint8 pictures
    (``[N, 64, 64, 3]``, as ``picture_array`` makes them) box-filtered to ``THUMB`` x ``THUMB``
    RGB in ``[0, 1]``, float32 ``[N, 3 * THUMB * THUMB]``: where the light, dark and coloured
    masses lie. Not part of the feature vector: two paintings far apart in texture and
    structure can still look alike at a glance (the generation task weighs both)."""
    check_images("glance_uint8 images", images, allow_empty=True)
    if images.shape[1:3] != (FEATURE_SIZE, FEATURE_SIZE):
        raise ValueError(
            f"glance_uint8 needs {FEATURE_SIZE}x{FEATURE_SIZE} pictures, got {images.shape[1:3]}."
        )
    cell = FEATURE_SIZE // THUMB
    blocks = images.reshape(len(images), THUMB, cell, THUMB, cell, 3).astype(np.float32).mean(axis=(2, 4))
    return torch.from_numpy(np.ascontiguousarray(blocks.reshape(len(images), -1) / 255.0))


def pairwise_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Euclidean distances ``[len(a), len(b)]`` between two sets of feature vectors."""
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(
            f"pairwise_distances needs two [N, D] tensors of the same D, got {list(a.shape)} and {list(b.shape)}."
        )
    a64, b64 = a.double(), b.double()
    # |a-b|^2 = |a|^2 + |b|^2 - 2ab in float64, so distances near zero (copies) stay exact enough.
    sq = a64.square().sum(1, keepdim=True) + b64.square().sum(1)[None, :] - 2 * a64 @ b64.T
    return sq.clamp_min(0).sqrt().float()
