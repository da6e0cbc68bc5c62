"""Adaptive discriminator augmentation (ADA, Karras et al. 2020), written fresh.

Every augmentation is differentiable, so the generator learns through it, and each
is applied per sample with probability ``p``. Geometric ones are composed into one
affine matrix and applied in one bilinear warp (reflection padding); colour
ones are composed into one 4x4 matrix acting on homogeneous RGB.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

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


class AugmentPipe(nn.Module):
    """Applies the augmentations; ``p`` is a buffer so it follows the module to the device."""

    def __init__(self, luma_flip: bool = False) -> None:
        super().__init__()
        self.luma_flip = luma_flip
        self.register_buffer("p", torch.zeros([]))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        p = float(self.p)
        if p <= 0:
            return images
        n, c, h, w = images.shape
        if c != 3:
            raise ValueError(f"AugmentPipe expects RGB images [N,3,H,W], got shape {tuple(images.shape)}.")
        dev = images.device
        images = self._geometric(images, p, n, h, w, dev)
        return self._colour(images, p, n, dev)

    @staticmethod
    def _gate(p: float, n: int, dev: torch.device) -> torch.Tensor:
        return (torch.rand(n, device=dev) < p).float()

    def _geometric(self, images: torch.Tensor, p: float, n: int, h: int, w: int, dev: torch.device):
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
        p_rot = 1 - math.sqrt(max(1 - p, 0.0))
        angle = (torch.rand(n, device=dev) * 2 - 1) * math.pi * ROTATE_MAX * self._gate(p_rot, n, dev)
        m = m @ _rotate(angle)
        a = torch.exp2(torch.randn(n, device=dev) * ANISO_STD * self._gate(p, n, dev))
        m = m @ _scale(a, 1 / a)
        angle = (torch.rand(n, device=dev) * 2 - 1) * math.pi * ROTATE_MAX * self._gate(p_rot, n, dev)
        m = m @ _rotate(angle)
        gate = self._gate(p, n, dev)
        frac = torch.randn(n, 2, device=dev) * TRANSLATE_FRAC_STD * 2 * gate[:, None]
        m = m @ _translate(frac[:, 0], frac[:, 1])
        return affine_warp(images, m[:, :2, :])

    def _colour(self, images: torch.Tensor, p: float, n: int, dev: torch.device) -> torch.Tensor:
        luma = torch.tensor([1.0, 1.0, 1.0], device=dev) / math.sqrt(3)
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
    """

    P_MAX = 1.0 - 2.0**-20  # below 1 and exactly representable in the float32 buffer

    def __init__(self, pipe: AugmentPipe, target: float, interval: int, ada_kimg: float, batch_size: int):
        self.pipe = pipe
        self.target = target
        self.interval = interval
        self.ada_kimg = ada_kimg
        self.batch_size = batch_size
        self.sign_sum = 0.0
        self.count = 0
        self.steps = 0
        self.last_rt: float | None = None

    @property
    def p(self) -> float:
        return float(self.pipe.p)

    def accumulate(self, real_logits: torch.Tensor) -> None:
        """Record one step's D(real) logits (already summed across ranks by the caller if distributed)."""
        self.sign_sum += float(torch.sign(real_logits.detach().float()).sum())
        self.count += real_logits.numel()

    def add_counts(self, sign_sum: float, count: int) -> None:
        self.sign_sum += sign_sum
        self.count += count

    def step(self) -> bool:
        """Call once per training step; returns True when p was adjusted."""
        self.steps += 1
        if self.steps % self.interval or self.count == 0:
            return False
        rt = self.sign_sum / self.count
        adjust = (
            math.copysign(1.0, rt - self.target) * self.batch_size * self.interval / (self.ada_kimg * 1000)
        )
        if rt == self.target:
            adjust = 0.0
        self.pipe.p.fill_(min(max(self.p + adjust, 0.0), self.P_MAX))
        self.last_rt = rt
        self.sign_sum = 0.0
        self.count = 0
        return True

    def state_dict(self) -> dict[str, Any]:
        return {
            "p": self.p,
            "sign_sum": self.sign_sum,
            "count": self.count,
            "steps": self.steps,
            "last_rt": self.last_rt,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.pipe.p.fill_(float(state["p"]))
        self.sign_sum = float(state["sign_sum"])
        self.count = int(state["count"])
        self.steps = int(state["steps"])
        self.last_rt = state.get("last_rt")
