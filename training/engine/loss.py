"""StyleGAN losses, kept apart from the loop so each term can be read and tested on its own.

Non-saturating logistic loss for G and D, lazy R1 on reals, optional path-length
regularisation, and style-mixing regularisation in the generator's forward pass.
The lazy terms are multiplied by their interval, so that applying them every k steps
has the same expected strength as applying them every step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .networks import preload_filters


class StyleGANLoss:
    def __init__(
        self,
        G: torch.nn.Module,
        D: torch.nn.Module,
        augment_pipe: torch.nn.Module | None = None,
        r1_gamma: float = 10.0,
        style_mixing_prob: float = 0.9,
        pl_weight: float = 2.0,
        pl_batch_shrink: int = 2,
        pl_decay: float = 0.01,
        autocast: Callable[[], Any] = contextlib.nullcontext,
        reduce_mean: Callable[[Tensor], Tensor] | None = None,
    ) -> None:
        self.G = G
        self.D = D
        self.augment_pipe = augment_pipe
        self.r1_gamma = r1_gamma
        self.style_mixing_prob = style_mixing_prob
        self.pl_weight = pl_weight
        self.pl_batch_shrink = pl_batch_shrink
        self.pl_decay = pl_decay
        self.autocast = autocast
        self.reduce_mean = reduce_mean or (lambda t: t)
        device = next(G.parameters()).device
        self.pl_mean = torch.zeros([], device=device)
        # The main passes may run through compiled copies (``compile_main``); R1 and path
        # length need double backward, which compiled graphs lack, so they use the modules.
        self.synthesis_main: Callable[..., Tensor] = G.synthesis
        self.D_main: Callable[..., Tensor] = D

    def compile_main(self) -> None:
        """Route the G and D main passes through ``torch.compile`` (same parameters)."""
        # The filters exist before the first trace, so the graphs take them as inputs.
        preload_filters(next(self.G.parameters()).device)
        self.synthesis_main = torch.compile(self.G.synthesis)
        self.D_main = torch.compile(self.D)

    # Forward passes ---------------------------------------------------------------------

    def mapping(self, z: Tensor, c: Tensor | None, update_w_avg: bool = False) -> Tensor:
        """ws with style mixing: each sample, with probability p, takes a second w from a random layer on."""
        ws = self.G.mapping(z, c, update_w_avg=update_w_avg)
        if self.style_mixing_prob > 0:
            n, num_ws = ws.shape[0], ws.shape[1]
            mix = torch.rand(n, device=ws.device) < self.style_mixing_prob
            cutoff = torch.randint(1, num_ws, (n,), device=ws.device)
            ws2 = self.G.mapping(torch.randn_like(z), c, update_w_avg=False)
            layer = torch.arange(num_ws, device=ws.device)
            take = (layer[None, :] >= cutoff[:, None]) & mix[:, None]
            ws = torch.where(take[:, :, None], ws2, ws)
        return ws

    def generate(
        self, z: Tensor, c: Tensor | None, update_w_avg: bool = False, main: bool = False
    ) -> tuple[Tensor, Tensor]:
        ws = self.mapping(z, c, update_w_avg=update_w_avg)
        synthesis = self.synthesis_main if main else self.G.synthesis
        return synthesis(ws, noise_mode="random"), ws

    def discriminate(self, img: Tensor, c: Tensor | None, main: bool = False) -> Tensor:
        if self.augment_pipe is not None:
            img = self.augment_pipe(img)
        return (self.D_main if main else self.D)(img, c).float()

    # Loss terms -------------------------------------------------------------------------

    def g_main(self, z: Tensor, c: Tensor | None) -> Tensor:
        """Non-saturating loss: softplus(-D(G(z))); also updates the w_avg used for truncation."""
        with self.autocast():
            img, _ = self.generate(z, c, update_w_avg=True, main=True)
            logits = self.discriminate(img, c, main=True)
        return F.softplus(-logits).mean()

    def g_path_length(self, z: Tensor, c: Tensor | None, interval: int) -> tuple[Tensor, Tensor]:
        """Path-length penalty (fp32: second-order gradients overflow easily in half precision).

        ``z``/``c`` are latents of its own, not the main step's (as in StyleGAN2), so the
        penalty is measured on images the main loss has not just pushed on."""
        n = max(1, z.shape[0] // self.pl_batch_shrink)
        img, ws = self.generate(z[:n], c[:n] if c is not None else None)
        h, w = img.shape[2], img.shape[3]
        pl_noise = torch.randn_like(img) / np.sqrt(h * w)
        (grad,) = torch.autograd.grad((img * pl_noise).sum(), ws, create_graph=True)
        lengths = grad.square().sum(2).mean(1).sqrt()
        batch_mean = self.reduce_mean(lengths.mean().detach())
        self.pl_mean.copy_(self.pl_mean.lerp(batch_mean, self.pl_decay))
        penalty = (lengths - self.pl_mean).square()
        return penalty.mean() * self.pl_weight * interval, lengths.mean().detach()

    def d_main(
        self, real: Tensor, real_c: Tensor | None, z: Tensor, gen_c: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        """softplus(D(fake)) + softplus(-D(real)); returns the loss and D(real) logits for ADA."""
        with self.autocast():
            with torch.no_grad():
                fake, _ = self.generate(z, gen_c, main=True)
            fake_logits = self.discriminate(fake, gen_c, main=True)
            real_logits = self.discriminate(real, real_c, main=True)
        loss = F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()
        return loss, real_logits.detach()

    def d_r1(self, real: Tensor, real_c: Tensor | None, interval: int) -> tuple[Tensor, Tensor]:
        """R1: gamma/2 * |grad_x D(x)|^2 on (augmented) reals, in fp32."""
        real = real.detach().requires_grad_(True)
        logits = self.discriminate(real, real_c)
        (grad,) = torch.autograd.grad(logits.sum(), real, create_graph=True)
        penalty = grad.square().sum([1, 2, 3])
        return penalty.mean() * (self.r1_gamma / 2) * interval, penalty.mean().detach()

    def state_dict(self) -> dict[str, Tensor]:
        return {"pl_mean": self.pl_mean.detach().cpu().clone()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.pl_mean.copy_(state["pl_mean"])
