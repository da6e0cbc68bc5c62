"""Adaptive discriminator augmentation (ADA, Karras et al. 2020), written fresh.

Every augmentation is differentiable, so the generator learns through it, and each
is applied per sample with probability ``p``. Geometric ones are composed into one
affine matrix and applied in one anti-aliased warp, as in ADA: the image is
up-sampled 2x with the sym6 wavelet's low-pass filter, resampled bilinearly at that
resolution (reflection padding), and down-sampled 2x with the same filter, so that
rotations and down-scaling do not fold high frequencies back into the picture.
Colour ones (brightness, contrast, luma flip, hue, saturation) are composed into one
4x4 matrix acting on homogeneous RGB.

``p`` lives on the device and every decision is a tensor operation, so the training
step never waits for the host. Deviation from ADA, on purpose: a sample whose
geometric transform came out as the identity keeps its exact pixels instead of
going through the filters (ADA filters every image, even at p = 0); with p = 0.2
that is about a fifth of the reals ADA would blur a little, and p = 0 costs nothing.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from training.engine.networks import separable_filter

# Strengths follow the ADA paper's "bgc" pipeline.
TRANSLATE_INT_MAX = 0.125  # fraction of the image size
SCALE_STD = 0.2  # log2 units
ROTATE_MAX = 1.0  # fraction of pi
ANISO_STD = 0.2
TRANSLATE_FRAC_STD = 0.125
BRIGHTNESS_STD = 0.2
CONTRAST_STD = 0.5
HUE_MAX = 1.0
SATURATION_STD = 1.0

# sym6 low-pass decomposition filter (Daubechies' least-asymmetric wavelet with 6 vanishing
# moments), the filter ADA uses around its geometric warp; orthonormal: sum sqrt(2), energy 1.
SYM6 = (
    0.015404109327027373,
    0.0034907120842174702,
    -0.11799011114819057,
    -0.048311742585633,
    0.4910559419267466,
    0.787641141030194,
    0.3379294217276218,
    -0.07263752278646252,
    -0.021060292512300564,
    0.04472490177066578,
    0.0017677118642428036,
    -0.007800708325034148,
)


def _translate(tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
    m = torch.eye(3, device=tx.device).repeat(tx.shape[0], 1, 1)
    m[:, 0, 2] = tx
    m[:, 1, 2] = ty
    return m


def _scale(sx: torch.Tensor, sy: torch.Tensor) -> torch.Tensor:
    m = torch.eye(3, device=sx.device).repeat(sx.shape[0], 1, 1)
    m[:, 0, 0] = sx
    m[:, 1, 1] = sy
    return m


def _rotate(theta: torch.Tensor) -> torch.Tensor:
    m = torch.eye(3, device=theta.device).repeat(theta.shape[0], 1, 1)
    m[:, 0, 0] = torch.cos(theta)
    m[:, 0, 1] = -torch.sin(theta)
    m[:, 1, 0] = torch.sin(theta)
    m[:, 1, 1] = torch.cos(theta)
    return m


def _translate3(t: torch.Tensor) -> torch.Tensor:
    m = torch.eye(4, device=t.device).repeat(t.shape[0], 1, 1)
    m[:, :3, 3] = t[:, None]
    return m


def _scale3(s: torch.Tensor) -> torch.Tensor:
    m = torch.eye(4, device=s.device).repeat(s.shape[0], 1, 1)
    m[:, 0, 0] = s
    m[:, 1, 1] = s
    m[:, 2, 2] = s
    return m


def _rotate3_about(axis: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Rodrigues rotation of RGB about a unit axis (the grey diagonal for hue)."""
    x, y, z = axis
    c, s = torch.cos(theta), torch.sin(theta)
    cc = 1 - c
    m = torch.eye(4, device=theta.device).repeat(theta.shape[0], 1, 1)
    m[:, 0, 0] = x * x * cc + c
    m[:, 0, 1] = x * y * cc - z * s
    m[:, 0, 2] = x * z * cc + y * s
    m[:, 1, 0] = y * x * cc + z * s
    m[:, 1, 1] = y * y * cc + c
    m[:, 1, 2] = y * z * cc - x * s
    m[:, 2, 0] = z * x * cc - y * s
    m[:, 2, 1] = z * y * cc + x * s
    m[:, 2, 2] = z * z * cc + c
    return m


def _reflect(coord: torch.Tensor, size: int) -> torch.Tensor:
    """Reflect pixel coordinates into [-0.5, size-0.5] (mirror at the pixel edges), then clip to [0, size-1]."""
    span = float(size)
    shifted = (coord + 0.5).abs()
    flips = torch.floor(shifted / span)
    extra = shifted - flips * span
    reflected = torch.where(flips % 2 == 0, extra, span - extra) - 0.5
    return reflected.clamp(0, size - 1)


def affine_warp(images: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Bilinear resampling of ``images`` by affine ``theta`` [N,2,3] with reflection padding.

    The same result as ``F.grid_sample(images, F.affine_grid(theta, ...), padding_mode="reflection",
    align_corners=False)``, but built from gathers, so it is differentiable twice on every device:
    R1 differentiates D's gradient through the augmentations, and CUDA has no double backward
    for grid_sample. The sampling positions and weights do not depend on the images, so they are
    computed without gradients.
    """
    n, c, h, w = images.shape
    with torch.no_grad():
        grid = F.affine_grid(theta.float(), [n, c, h, w], align_corners=False)  # [N,H,W,2] as (x, y)
        ix = _reflect(((grid[..., 0] + 1) * w - 1) / 2, w)
        iy = _reflect(((grid[..., 1] + 1) * h - 1) / 2, h)
        x0, y0 = ix.floor(), iy.floor()
        wx1, wy1 = ix - x0, iy - y0
        x0, y0 = x0.long(), y0.long()
        x1, y1 = (x0 + 1).clamp(max=w - 1), (y0 + 1).clamp(max=h - 1)
        corners = [
            (y0, x0, (1 - wy1) * (1 - wx1)),
            (y0, x1, (1 - wy1) * wx1),
            (y1, x0, wy1 * (1 - wx1)),
            (y1, x1, wy1 * wx1),
        ]
    flat = images.reshape(n, c, h * w)
    out = None
    for yy, xx, weight in corners:
        index = (yy * w + xx).reshape(n, 1, h * w).expand(n, c, h * w)
        term = torch.gather(flat, 2, index) * weight.reshape(n, 1, h * w).to(images.dtype)
        out = term if out is None else out + term
    return out.reshape(n, c, h, w)


def _sym6_kernel(channels: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """The separable 2-D sym6 low-pass [C, 1, 12, 12], normalised to sum 1, for depthwise convs."""
    return separable_filter(SYM6, device, dtype).expand(channels, 1, len(SYM6), len(SYM6))


def upsample2x_sym6(images: torch.Tensor) -> torch.Tensor:
    """2x up-sampling: zero insertion, then the sym6 low-pass (gain 4), reflection at the borders."""
    c = images.shape[1]
    k = _sym6_kernel(c, images.device, images.dtype) * 4
    pad = 3  # 12 taps at 2x reach 3 pixels beyond the border at 1x
    x = F.pad(images, (pad, pad, pad, pad), mode="reflect")
    x = F.conv_transpose2d(x, k, stride=2, groups=c)  # 2(H + 2 pad) + 10
    # Output pixel 2i sits on input pixel i: sym6's centre of mass is at tap 5.5.
    lo = 2 * pad + 5
    return x[:, :, lo : lo + 2 * images.shape[2], lo : lo + 2 * images.shape[3]]


def downsample2x_sym6(images: torch.Tensor) -> torch.Tensor:
    """2x down-sampling: the sym6 low-pass, then every second pixel, reflection at the borders."""
    c = images.shape[1]
    k = _sym6_kernel(c, images.device, images.dtype)
    x = F.pad(images, (5, 5, 5, 5), mode="reflect")
    return F.conv2d(x, k, stride=2, groups=c)


def filtered_warp(images: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """``affine_warp`` done at twice the resolution between sym6 up- and down-sampling:
    the anti-aliased geometric step of ADA (4x the gathers of a plain warp, still cheap
    beside the discriminator)."""
    return downsample2x_sym6(affine_warp(upsample2x_sym6(images), theta))


class AugmentPipe(nn.Module):
    """Applies the augmentations; ``p`` is a buffer so it follows the module to the device."""

    def __init__(self, luma_flip: bool = True) -> None:
        super().__init__()
        self.luma_flip = luma_flip
        self.register_buffer("p", torch.zeros([]))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        n, c, h, w = images.shape
        if c != 3:
            raise ValueError(f"AugmentPipe expects RGB images [N,3,H,W], got shape {tuple(images.shape)}.")
        dev = images.device
        if self.p.device.type == "cpu" and float(self.p) <= 0:
            return images  # reading p is free on the CPU: skip the work that would change nothing
        p = self.p.to(dev, torch.float32)
        # In float32 whatever the caller's autocast: under bf16 the matrices and sampling
        # coordinates (affine_grid is a matmul) keep 8 bits, so at a 512-px warp (256-px images)
        # a clamp to 511 came out as 512 and the gather read past the image (a device-side assert
        # on an H200), and at 128 px every position snapped to whole pixels.
        with torch.autocast(dev.type, enabled=False):
            images = self._geometric(images.float(), p, n, h, w, dev)
            return self._colour(images, p, n, dev)

    @staticmethod
    def _gate(p: torch.Tensor, n: int, dev: torch.device) -> torch.Tensor:
        return (torch.rand(n, device=dev) < p).float()

    def _geometric(self, images: torch.Tensor, p: torch.Tensor, n: int, h: int, w: int, dev: torch.device):
        # The matrix maps output coordinates to input coordinates in grid_sample's [-1, 1] space.
        m = torch.eye(3, device=dev).repeat(n, 1, 1)
        flip = torch.randint(0, 2, (n,), device=dev) * self._gate(p, n, dev)
        m = m @ _scale(1 - 2 * flip, torch.ones(n, device=dev))
        quarter = torch.randint(0, 4, (n,), device=dev) * self._gate(p, n, dev)
        m = m @ _rotate(quarter * (math.pi / 2))
        # Integer translation: whole pixels, so pixel centres land on pixel centres.
        gate = self._gate(p, n, dev)
        t = (torch.rand(n, 2, device=dev) * 2 - 1) * TRANSLATE_INT_MAX
        tx = torch.round(t[:, 0] * w) * 2 / w * gate
        ty = torch.round(t[:, 1] * h) * 2 / h * gate
        m = m @ _translate(tx, ty)
        s = torch.exp2(torch.randn(n, device=dev) * SCALE_STD * self._gate(p, n, dev))
        m = m @ _scale(s, s)
        # Rotation happens before and after the anisotropic scale, each with p_rot, so the
        # probability of any rotation is p (as in ADA).
        p_rot = 1 - (1 - p).clamp(min=0).sqrt()
        angle = (torch.rand(n, device=dev) * 2 - 1) * math.pi * ROTATE_MAX * self._gate(p_rot, n, dev)
        m = m @ _rotate(angle)
        a = torch.exp2(torch.randn(n, device=dev) * ANISO_STD * self._gate(p, n, dev))
        m = m @ _scale(a, 1 / a)
        angle = (torch.rand(n, device=dev) * 2 - 1) * math.pi * ROTATE_MAX * self._gate(p_rot, n, dev)
        m = m @ _rotate(angle)
        gate = self._gate(p, n, dev)
        frac = torch.randn(n, 2, device=dev) * TRANSLATE_FRAC_STD * 2 * gate[:, None]
        m = m @ _translate(frac[:, 0], frac[:, 1])
        identity = (m == torch.eye(3, device=dev)).flatten(1).all(dim=1)
        warped = filtered_warp(images, m[:, :2, :])
        return torch.where(identity[:, None, None, None], images, warped)

    def _colour(self, images: torch.Tensor, p: torch.Tensor, n: int, dev: torch.device) -> torch.Tensor:
        luma = torch.full((3,), 1 / math.sqrt(3), device=dev)  # made there: no host copy to wait for
        luma4 = torch.cat([luma, torch.zeros(1, device=dev)])
        m = torch.eye(4, device=dev).repeat(n, 1, 1)
        b = torch.randn(n, device=dev) * BRIGHTNESS_STD * self._gate(p, n, dev)
        m = _translate3(b) @ m
        con = torch.exp2(torch.randn(n, device=dev) * CONTRAST_STD * self._gate(p, n, dev))
        m = _scale3(con) @ m
        outer = torch.outer(luma4, luma4)
        if self.luma_flip:
            flip = torch.randint(0, 2, (n,), device=dev) * self._gate(p, n, dev)
            m = (torch.eye(4, device=dev) - 2 * outer * flip[:, None, None]) @ m
        hue = (torch.rand(n, device=dev) * 2 - 1) * math.pi * HUE_MAX * self._gate(p, n, dev)
        m = _rotate3_about(luma, hue) @ m
        sat = torch.exp2(torch.randn(n, device=dev) * SATURATION_STD * self._gate(p, n, dev))
        sat_m = outer + (torch.eye(4, device=dev) - outer) * sat[:, None, None]
        sat_m[:, 3, 3] = 1
        m = sat_m @ m
        m = m.to(images.dtype)
        n_, c, h, w = images.shape
        flat = images.reshape(n_, c, h * w)
        flat = m[:, :3, :3] @ flat + m[:, :3, 3:]
        return flat.reshape(n_, c, h, w)


class AdaController:
    """Steers ``pipe.p`` so that E[sign(D(real))] stays near ``target``.

    Every ``interval`` steps p moves by batch*interval / (ada_kimg*1000) in the direction
    of the error, so a constant error carries p from 0 to 1 in ``ada_kimg`` thousand images.
    The sign sum and the update stay on p's device (no host synchronisation per step);
    ``p`` and ``last_rt`` read them back, which the loop does once per tick.
    """

    P_MAX = 1.0 - 2.0**-20  # below 1 and exactly representable in the float32 buffer

    def __init__(self, pipe: AugmentPipe, target: float, interval: int, ada_kimg: float, batch_size: int):
        self.pipe = pipe
        self.target = target
        self.interval = interval
        self.ada_kimg = ada_kimg
        self.batch_size = batch_size
        device = pipe.p.device
        self.sign_sum = torch.zeros([], dtype=torch.float64, device=device)
        self.count = 0
        self.steps = 0
        self._last_rt: torch.Tensor | None = None

    @property
    def p(self) -> float:
        return float(self.pipe.p)

    @property
    def last_rt(self) -> float | None:
        """The last adjustment's E[sign(D(real))] (a host read: once per tick, not per step)."""
        return None if self._last_rt is None else float(self._last_rt)

    def accumulate(self, real_logits: torch.Tensor) -> None:
        """Record one step's D(real) logits (already summed across ranks by the caller if distributed)."""
        self.add_counts(
            torch.sign(real_logits.detach().float()).sum(dtype=torch.float64), real_logits.numel()
        )

    def add_counts(self, sign_sum: torch.Tensor | float, count: int) -> None:
        if self.sign_sum.device != self.pipe.p.device:  # the pipe was moved after construction
            self.sign_sum = self.sign_sum.to(self.pipe.p.device)
        self.sign_sum += sign_sum
        self.count += count

    def step(self) -> bool:
        """Call once per training step; returns True when p was adjusted."""
        self.steps += 1
        if self.steps % self.interval or self.count == 0:
            return False
        rt = self.sign_sum / self.count
        size = self.batch_size * self.interval / (self.ada_kimg * 1000)
        # sign(0) = 0: no move when rt hits the target exactly.
        p = (self.pipe.p.double() + torch.sign(rt - self.target) * size).clamp(0.0, self.P_MAX)
        self.pipe.p.copy_(p)
        self._last_rt = rt
        self.sign_sum = torch.zeros_like(self.sign_sum)
        self.count = 0
        return True

    def state_dict(self) -> dict[str, Any]:
        return {
            "p": self.p,
            "sign_sum": float(self.sign_sum),
            "count": self.count,
            "steps": self.steps,
            "last_rt": self.last_rt,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.pipe.p.fill_(float(state["p"]))
        self.sign_sum = torch.tensor(float(state["sign_sum"]), dtype=torch.float64, device=self.pipe.p.device)
        self.count = int(state["count"])
        self.steps = int(state["steps"])
        rt = state.get("last_rt")
        self._last_rt = None if rt is None else torch.tensor(float(rt), dtype=torch.float64)
