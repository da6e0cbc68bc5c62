"""Generation from a trained generator: seeded images, style mixing, interpolation.

Determinism: a seed's z is drawn on the CPU with ``numpy.random.RandomState``
(the convention of the StyleGAN reference projects), and with
``noise_mode="random"`` each image's noise is drawn on the CPU from its own
seed, so a seed gives the same picture whatever the batch it is generated in,
and the same pixels again on the same device.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from .networks import NOISE_MODES, Generator

BANDS = ("coarse", "middle", "fine")
MAX_SEED = 2**32 - 1


def seed_to_z(seeds: Sequence[int], z_dim: int) -> Tensor:
    """One latent per seed, float32 on the CPU, identical on every machine."""
    zs = []
    for seed in seeds:
        seed = int(seed)
        if not 0 <= seed <= MAX_SEED:
            raise ValueError(f"seed {seed} is out of range: seeds must be integers from 0 to {MAX_SEED}.")
        zs.append(np.random.RandomState(seed).randn(z_dim))
    if not zs:
        return torch.zeros(0, z_dim)
    return torch.from_numpy(np.stack(zs)).float()


def style_bands(num_ws: int) -> dict[str, range]:
    """Which w indices make up the coarse, middle and fine bands.

    Layers come in pairs per resolution (w 2k and 2k+1 belong to 4*2^k px), as
    in the StyleGAN paper's mixing figure. Coarse = 4²-8² (w 0-3),
    middle = 16²-32² (w 4-7), fine = 64² up to the output. At 256px (14 ws)
    that is 0-3 / 4-7 / 8-13. At 32px there are no 64² layers, so the split
    shifts: coarse 4²-8², middle 16², fine 32² (w 0-3 / 4-5 / 6-7).
    """
    if num_ws < 8 or num_ws % 2:
        raise ValueError(
            f"num_ws={num_ws} does not match a resolution of 32px or more (expected an even number >= 8)."
        )
    if num_ws == 8:
        return {"coarse": range(0, 4), "middle": range(4, 6), "fine": range(6, 8)}
    return {"coarse": range(0, 4), "middle": range(4, 8), "fine": range(8, num_ws)}


def _device_for(G: Generator, device: str | torch.device | None) -> torch.device:
    if device is None:
        return next(G.parameters()).device
    device = torch.device(device)
    if next(G.parameters()).device != device:
        G.to(device)
    return device


def _labels(G: Generator, class_idx: int | None, n: int, device: torch.device) -> Tensor | None:
    if G.num_classes == 0:
        if class_idx is not None:
            raise ValueError(
                f"class_idx={class_idx} given, but this generator is unconditional: leave it out."
            )
        return None
    if class_idx is None or not 0 <= int(class_idx) < G.num_classes:
        raise ValueError(
            f"This generator is class-conditional: pass class_idx from 0 to {G.num_classes - 1} "
            f"(got {class_idx})."
        )
    c = torch.zeros(n, G.num_classes, device=device)
    c[:, int(class_idx)] = 1.0
    return c


def _check_noise_mode(noise_mode: str) -> None:
    if noise_mode not in NOISE_MODES:
        raise ValueError(f"noise_mode={noise_mode!r} is unknown: choose one of {', '.join(NOISE_MODES)}.")


def _to_uint8(img: Tensor) -> np.ndarray:
    """[-1, 1] NCHW float -> uint8 NHWC."""
    img = (img.float() * 127.5 + 128.0).clamp(0, 255).to(torch.uint8)
    return img.permute(0, 2, 3, 1).cpu().numpy()


def _in_fixed_batches(fn: Callable[[Tensor, list[int]], Tensor], x: Tensor, batch_size: int) -> Tensor:
    """Apply ``fn(chunk, row_indices)`` in chunks of exactly ``batch_size`` rows (the last one padded).

    Kernels may round differently for different batch sizes, so a fixed size
    makes an image's pixels independent of which other images share its batch.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size} must be at least 1.")
    out = []
    for start in range(0, x.shape[0], batch_size):
        chunk = x[start : start + batch_size]
        n = chunk.shape[0]
        rows = list(range(start, start + n))
        if n < batch_size:
            chunk = torch.cat([chunk, chunk[-1:].expand(batch_size - n, *chunk.shape[1:])])
            rows += [rows[-1]] * (batch_size - n)
        out.append(fn(chunk, rows)[:n])
    return torch.cat(out)


def _mapping(
    G: Generator,
    seeds: Sequence[int],
    psi: float,
    truncation_cutoff: int | None,
    class_idx: int | None,
    device: torch.device,
    batch_size: int,
) -> Tensor:
    z = seed_to_z(seeds, G.z_dim).to(device)
    c = _labels(G, class_idx, batch_size, device)
    return _in_fixed_batches(
        lambda zb, _rows: G.mapping(zb, c, psi=psi, truncation_cutoff=truncation_cutoff), z, batch_size
    )


def _synthesize(
    G: Generator, ws: Tensor, noise_mode: str, noise_seeds: Sequence[int], batch_size: int
) -> np.ndarray:
    """Render ws in batches; random noise comes from ``noise_seeds`` (one per image)."""
    if ws.shape[0] == 0:
        r = G.img_resolution
        return np.zeros((0, r, r, 3), dtype=np.uint8)
    if noise_mode != "random":
        imgs = _in_fixed_batches(lambda wb, _rows: G.synthesis(wb, noise_mode=noise_mode), ws, batch_size)
        return _to_uint8(imgs)

    def render(chunk: Tensor, rows: list[int]) -> Tensor:
        noise = [t.to(ws.device) for t in G.synthesis.make_noise([noise_seeds[i] for i in rows])]
        return G.synthesis(chunk, noise_mode=noise_mode, noise=noise)

    return _to_uint8(_in_fixed_batches(render, ws, batch_size))


def generate_images(
    G: Generator,
    seeds: Sequence[int],
    psi: float = 1.0,
    truncation_cutoff: int | None = None,
    noise_mode: str = "const",
    class_idx: int | None = None,
    batch_size: int = 16,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """uint8 [N, R, R, 3], one image per seed (G is moved to ``device`` if given).

    For a given ``batch_size`` a seed's pixels do not depend on the other seeds
    asked for alongside it (batches are padded to full size).
    """
    _check_noise_mode(noise_mode)
    seeds = [int(s) for s in seeds]
    G.eval()
    dev = _device_for(G, device)
    with torch.inference_mode():
        ws = _mapping(G, seeds, psi, truncation_cutoff, class_idx, dev, batch_size)
        return _synthesize(G, ws, noise_mode, seeds, batch_size)


@dataclass
class MixResult:
    """A style-mixing grid: ``grid[r, c]`` is row source A[r] with column source B[c]'s
    styles in the ``layers`` of ``band``."""

    rows: np.ndarray
    cols: np.ndarray
    grid: np.ndarray
    band: str
    layers: list[int]
    row_seeds: list[int] = field(default_factory=list)
    col_seeds: list[int] = field(default_factory=list)


def _band_layers(band: str | Sequence[int], num_ws: int) -> tuple[str, list[int]]:
    if isinstance(band, str):
        bands = style_bands(num_ws)
        if band not in bands:
            raise ValueError(
                f"band={band!r} is unknown: choose one of {', '.join(BANDS)} or a list of layers."
            )
        return band, list(bands[band])
    layers = sorted({int(i) for i in band})
    if any(not 0 <= i < num_ws for i in layers):
        raise ValueError(f"band layers {layers} must lie in 0..{num_ws - 1} for this generator.")
    return "custom", layers


def style_mix(
    G: Generator,
    row_seeds: Sequence[int],
    col_seeds: Sequence[int],
    band: str | Sequence[int],
    psi: float = 1.0,
    noise_mode: str = "const",
    device: str | torch.device | None = None,
    class_idx: int | None = None,
    batch_size: int = 16,
    truncation_cutoff: int | None = None,
) -> MixResult:
    """Mix B's styles into A in one band ("coarse", "middle", "fine" or explicit w indices).

    With ``noise_mode="random"`` every cell uses its row (A) seed's noise, so a
    cell differs from A only through the swapped styles. ``truncation_cutoff``:
    truncate only the sources' first N ws (all when None), as ``generate_images``.
    """
    return style_mix_bands(
        G,
        row_seeds,
        col_seeds,
        [band],
        psi,
        noise_mode,
        device,
        class_idx,
        batch_size,
        truncation_cutoff=truncation_cutoff,
    )[0]


def style_mix_bands(
    G: Generator,
    row_seeds: Sequence[int],
    col_seeds: Sequence[int],
    bands: Sequence[str | Sequence[int]],
    psi: float = 1.0,
    noise_mode: str = "const",
    device: str | torch.device | None = None,
    class_idx: int | None = None,
    batch_size: int = 16,
    truncation_cutoff: int | None = None,
) -> list[MixResult]:
    """``style_mix`` for several bands at once (an exhibit's coarse, middle and
    fine grids): the sources are mapped and painted once, and every band's
    cells go through the synthesis network together, in full batches."""
    _check_noise_mode(noise_mode)
    row_seeds = [int(s) for s in row_seeds]
    col_seeds = [int(s) for s in col_seeds]
    if not row_seeds or not col_seeds:
        raise ValueError("style_mix needs at least one row seed and one column seed.")
    if not bands:
        raise ValueError("style_mix_bands needs at least one band.")
    resolved = [_band_layers(band, G.num_ws) for band in bands]
    G.eval()
    dev = _device_for(G, device)
    nr, nc = len(row_seeds), len(col_seeds)
    with torch.inference_mode():
        ws_a = _mapping(G, row_seeds, psi, truncation_cutoff, class_idx, dev, batch_size)
        ws_b = _mapping(G, col_seeds, psi, truncation_cutoff, class_idx, dev, batch_size)
        rows = _synthesize(G, ws_a, noise_mode, row_seeds, batch_size)
        cols = _synthesize(G, ws_b, noise_mode, col_seeds, batch_size)
        mixed = []
        for _, layers in resolved:
            band_ws = ws_a.unsqueeze(1).repeat(1, nc, 1, 1)  # [R, C, num_ws, w_dim]
            band_ws[:, :, layers] = ws_b.unsqueeze(0).expand(nr, -1, -1, -1)[:, :, layers]
            mixed.append(band_ws.reshape(nr * nc, G.num_ws, G.w_dim))
        cell_seeds = [s for s in row_seeds for _ in col_seeds] * len(resolved)
        cells = _synthesize(G, torch.cat(mixed), noise_mode, cell_seeds, batch_size)
    cells = cells.reshape(len(resolved), nr, nc, *cells.shape[1:])
    return [
        MixResult(
            rows=rows,
            cols=cols,
            grid=cells[i],
            band=name,
            layers=layers,
            row_seeds=row_seeds,
            col_seeds=col_seeds,
        )
        for i, (name, layers) in enumerate(resolved)
    ]


def mixing_figure(result: MixResult, gap: int | None = None) -> Image.Image:
    """The StyleGAN paper's Fig. 3 layout on white: B across the top, A down the
    left, each grid cell at (A's row, B's column); top-left corner left blank."""
    nr, nc, h, w = result.grid.shape[:4]
    gap = max(2, h // 32) if gap is None else gap
    width = (nc + 1) * w + nc * gap + gap  # an extra gap sets the sources apart from the grid
    height = (nr + 1) * h + nr * gap + gap
    canvas = Image.new("RGB", (width, height), "white")

    def x_of(col: int) -> int:  # col -1 = the A column
        return 0 if col < 0 else w + 2 * gap + col * (w + gap)

    def y_of(row: int) -> int:
        return 0 if row < 0 else h + 2 * gap + row * (h + gap)

    for c in range(nc):
        canvas.paste(Image.fromarray(result.cols[c]), (x_of(c), y_of(-1)))
    for r in range(nr):
        canvas.paste(Image.fromarray(result.rows[r]), (x_of(-1), y_of(r)))
        for c in range(nc):
            canvas.paste(Image.fromarray(result.grid[r, c]), (x_of(c), y_of(r)))
    return canvas


def interpolate(
    G: Generator,
    seeds: Sequence[int],
    steps_per_pair: int,
    psi: float = 1.0,
    noise_mode: str = "const",
    device: str | torch.device | None = None,
    class_idx: int | None = None,
    batch_size: int = 16,
    truncation_cutoff: int | None = None,
) -> np.ndarray:
    """Frames walking linearly in w between consecutive seeds; uint8 [F, R, R, 3]
    with F = (len(seeds) - 1) * steps_per_pair + 1 (the last frame is the last seed).

    Random noise, if asked for, is the first seed's throughout, so frames do not flicker.
    """
    _check_noise_mode(noise_mode)
    seeds = [int(s) for s in seeds]
    if len(seeds) < 2:
        raise ValueError(f"interpolate needs at least two seeds, got {seeds}.")
    if steps_per_pair < 1:
        raise ValueError(f"steps_per_pair={steps_per_pair} must be at least 1.")
    G.eval()
    dev = _device_for(G, device)
    with torch.inference_mode():
        ws = _mapping(G, seeds, psi, truncation_cutoff, class_idx, dev, batch_size)
        t = torch.arange(steps_per_pair, device=dev, dtype=torch.float32) / steps_per_pair
        frames = [
            torch.lerp(ws[i].unsqueeze(0), ws[i + 1].unsqueeze(0), t.view(-1, 1, 1))
            for i in range(len(seeds) - 1)
        ]
        frames.append(ws[-1:])
        all_ws = torch.cat(frames)
        return _synthesize(G, all_ws, noise_mode, [seeds[0]] * all_ws.shape[0], batch_size)


def images_to_grid(images: np.ndarray, cols: int) -> Image.Image:
    """Tile uint8 [N, H, W, 3] images row by row; unused cells stay white."""
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"images_to_grid expects uint8 [N, H, W, 3], got {images.dtype} {list(images.shape)}."
        )
    if cols < 1:
        raise ValueError(f"cols={cols} must be at least 1.")
    n, h, w = images.shape[:3]
    rows = max(1, math.ceil(n / cols))
    canvas = Image.new("RGB", (min(cols, max(n, 1)) * w, rows * h), "white")
    for i in range(n):
        canvas.paste(Image.fromarray(images[i]), ((i % cols) * w, (i // cols) * h))
    return canvas
