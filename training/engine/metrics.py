"""Image-quality metrics: multi-scale sliced Wasserstein distance and FID.

SWD follows the ProGAN paper (Karras et al. 2018, appendix D): no pretrained
network, so it can run during training anywhere. FID needs a local TorchScript
Inception feature extractor that the user provides.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import scipy.linalg
import torch
import torch.nn.functional as F

SWD_MIN_RESOLUTION = 16
SWD_NHOOD = 7
SWD_NHOODS_PER_IMAGE = 128
SWD_DIR_REPEATS = 4
SWD_DIRS_PER_REPEAT = 128
SWD_SCALE = 1e3  # the paper reports SWD x 10^3
_BATCH = 64


def check_images(name: str, images: np.ndarray, allow_empty: bool = False) -> None:
    """Raise ValueError naming ``name`` unless ``images`` is a uint8 [N, H, W, 3] array."""
    if (
        not isinstance(images, np.ndarray)
        or images.dtype != np.uint8
        or images.ndim != 4
        or images.shape[3] != 3
    ):
        got = (
            f"{images.dtype} {list(images.shape)}"
            if isinstance(images, np.ndarray)
            else type(images).__name__
        )
        raise ValueError(f"{name} must be a uint8 array of shape [N, H, W, 3], got {got}.")
    if images.shape[0] == 0 and not allow_empty:
        raise ValueError(f"{name} holds no images.")


def _gaussian(channels: int) -> torch.Tensor:
    k = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], dtype=torch.float64)
    k2 = torch.outer(k, k) / 256.0
    return k2.float().expand(channels, 1, 5, 5).contiguous()


def _pyr_down(x: torch.Tensor) -> torch.Tensor:
    c = x.shape[1]
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), _gaussian(c), stride=2, groups=c)


def _pyr_up(x: torch.Tensor) -> torch.Tensor:
    n, c, h, w = x.shape
    up = torch.zeros(n, c, h * 2, w * 2, dtype=x.dtype)
    up[:, :, ::2, ::2] = x
    return F.conv2d(F.pad(up, (2, 2, 2, 2), mode="reflect"), _gaussian(c) * 4.0, groups=c)


def _laplacian_level(x: torch.Tensor, level: int, num_levels: int) -> torch.Tensor:
    """Band ``level`` of the Laplacian pyramid; the last level is the low-pass residual."""
    for _ in range(level):
        x = _pyr_down(x)
    if level == num_levels - 1:
        return x
    return x - _pyr_up(_pyr_down(x))


def _descriptors(images: np.ndarray, level: int, num_levels: int, rng: np.random.RandomState) -> torch.Tensor:
    """Random 7x7x3 neighbourhoods from one pyramid level, normalised per colour channel."""
    out = []
    for start in range(0, images.shape[0], _BATCH):
        batch = torch.from_numpy(images[start : start + _BATCH]).permute(0, 3, 1, 2).float()
        lap = _laplacian_level(batch, level, num_levels)
        n, c, h, w = lap.shape
        ys = torch.from_numpy(rng.randint(0, h - SWD_NHOOD + 1, size=(n, SWD_NHOODS_PER_IMAGE)))
        xs = torch.from_numpy(rng.randint(0, w - SWD_NHOOD + 1, size=(n, SWD_NHOODS_PER_IMAGE)))
        # Gather every patch at once: index offsets of a 7x7 window around each corner.
        offs = torch.arange(SWD_NHOOD)
        rows = (ys[..., None] + offs).view(n, SWD_NHOODS_PER_IMAGE, SWD_NHOOD, 1)
        cols = (xs[..., None] + offs).view(n, SWD_NHOODS_PER_IMAGE, 1, SWD_NHOOD)
        bidx = torch.arange(n).view(n, 1, 1, 1)
        patches = lap.permute(0, 2, 3, 1)[bidx, rows, cols]  # [n, P, 7, 7, c]
        out.append(patches.reshape(-1, SWD_NHOOD, SWD_NHOOD, c))
    desc = torch.cat(out)
    mean = desc.mean(dim=(0, 1, 2), keepdim=True)
    std = desc.std(dim=(0, 1, 2), keepdim=True).clamp_min(1e-8)
    return ((desc - mean) / std).reshape(desc.shape[0], -1)


def _swd(a: torch.Tensor, b: torch.Tensor, gen: torch.Generator) -> float:
    results = []
    for _ in range(SWD_DIR_REPEATS):
        dirs = torch.randn(a.shape[1], SWD_DIRS_PER_REPEAT, generator=gen)
        dirs = dirs / dirs.square().sum(dim=0, keepdim=True).sqrt()
        # numpy's sort is several times faster than torch's along a column on CPU.
        pa = np.sort((a @ dirs).numpy(), axis=0)
        pb = np.sort((b @ dirs).numpy(), axis=0)
        results.append(float(np.abs(pa - pb).mean()))
    return float(np.mean(results))


def sliced_wasserstein(real: np.ndarray, fake: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Multi-scale sliced Wasserstein distance (x 1e3) between two image sets.

    real, fake: uint8 [N, H, W, 3] at the same resolution (counts may differ; the
    larger set's descriptors are subsampled). For each Laplacian-pyramid level
    from full size down to 16px, 128 random 7x7 neighbourhoods per image are
    compared by 4 x 128 random projections. Returns ``swd_<res>`` per level and
    ``swd``, their mean; lower is better, about 0 for the same distribution.
    """
    check_images("real", real)
    check_images("fake", fake)
    if real.shape[1:] != fake.shape[1:]:
        raise ValueError(
            f"real and fake images must have the same size, got {list(real.shape[1:])} and {list(fake.shape[1:])}."
        )
    h, w = real.shape[1:3]
    if min(h, w) < SWD_MIN_RESOLUTION:
        raise ValueError(f"SWD needs images of at least {SWD_MIN_RESOLUTION}px, got {h}x{w}.")
    num_levels = 1
    while min(h, w) >> num_levels >= SWD_MIN_RESOLUTION and (h >> (num_levels - 1)) % 2 == 0:
        num_levels += 1
    rng = np.random.RandomState(seed)
    gen = torch.Generator().manual_seed(seed)
    result: dict[str, float] = {}
    with torch.no_grad():
        for level in range(num_levels):
            a = _descriptors(real, level, num_levels, rng)
            b = _descriptors(fake, level, num_levels, rng)
            count = min(a.shape[0], b.shape[0])
            if a.shape[0] > count:
                a = a[torch.from_numpy(rng.choice(a.shape[0], count, replace=False))]
            if b.shape[0] > count:
                b = b[torch.from_numpy(rng.choice(b.shape[0], count, replace=False))]
            result[f"swd_{h >> level}"] = _swd(a, b, gen) * SWD_SCALE
    result["swd"] = float(np.mean(list(result.values())))
    return result


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance between Gaussians N(mu1, sigma1) and N(mu2, sigma2):
    |mu1 - mu2|^2 + tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2))."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = (
        np.atleast_2d(np.asarray(sigma1, np.float64)),
        np.atleast_2d(np.asarray(sigma2, np.float64)),
    )
    d = mu1.shape[0]
    if mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(
            f"frechet_distance needs means of shape [{d}] and covariances of shape [{d}, {d}], got "
            f"{list(mu1.shape)}, {list(sigma1.shape)}, {list(mu2.shape)}, {list(sigma2.shape)}."
        )
    diff = mu1 - mu2
    covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        # Singular product (e.g. fewer samples than feature dimensions): regularise, as pytorch-fid does.
        offset = np.eye(d) * 1e-6
        covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        # Tiny imaginary parts come from rounding; large ones mean the covariances are not valid.
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3 * max(1.0, np.abs(covmean).max())):
            raise ValueError(
                "frechet_distance: sqrt(sigma1 @ sigma2) has a large imaginary part; "
                "check that both covariances are symmetric positive semi-definite."
            )
        covmean = covmean.real
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean)
    return float(max(value, 0.0))


def _features(model: torch.jit.ScriptModule, images: np.ndarray, device: torch.device) -> np.ndarray:
    wants_flag = "return_features" in [a.name for a in model.forward.schema.arguments]
    feats = []
    for start in range(0, images.shape[0], _BATCH):
        batch = torch.from_numpy(images[start : start + _BATCH]).permute(0, 3, 1, 2).contiguous().to(device)
        out = model(batch, return_features=True) if wants_flag else model(batch)
        feats.append(out.reshape(out.shape[0], -1).double().cpu().numpy())
    return np.concatenate(feats)


def fid(
    real: np.ndarray,
    fake: np.ndarray,
    inception_path: str | Path,
    device: str | torch.device | None = None,
) -> float:
    """Fréchet Inception Distance between two uint8 [N, H, W, 3] image sets.

    ``inception_path`` is a local TorchScript file (such as the reference
    projects' ``inception-2015-12-05.pt``) that maps a uint8 NCHW batch to
    feature vectors (2048 for Inception); it is never downloaded here.
    """
    path = Path(inception_path)
    if not path.is_file():
        raise FileNotFoundError(
            f"Inception feature extractor not found at {path}: download a TorchScript Inception file "
            "(e.g. inception-2015-12-05.pt) to this machine and pass its path, or measure SWD instead."
        )
    check_images("real", real)
    check_images("fake", fake)
    if real.shape[0] < 2 or fake.shape[0] < 2:
        raise ValueError(
            f"FID needs at least 2 images per set, got {real.shape[0]} real and {fake.shape[0]} fake."
        )
    dev = (
        torch.device(device)
        if device is not None
        else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    )
    try:
        with warnings.catch_warnings():
            # TorchScript is deprecated in favour of torch.export, but the reference
            # Inception weights exist only as a TorchScript file.
            warnings.filterwarnings(
                "ignore", message=".*torch.jit.load.*deprecated", category=DeprecationWarning
            )
            model = torch.jit.load(str(path), map_location=dev).eval()
    except RuntimeError as exc:
        raise ValueError(
            f"{path} is not a TorchScript feature extractor that torch.jit.load can read: {exc}"
        ) from exc
    with torch.inference_mode():
        f_real = _features(model, real, dev)
        f_fake = _features(model, fake, dev)
    return frechet_distance(
        f_real.mean(axis=0), np.cov(f_real, rowvar=False), f_fake.mean(axis=0), np.cov(f_fake, rowvar=False)
    )
