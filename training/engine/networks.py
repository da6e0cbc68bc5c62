"""StyleGAN generator and discriminator in plain PyTorch.

Facts followed (StyleGAN, StyleGAN2, StyleGAN2-ADA papers): equalised learning
rate (weights stored at unit variance, scaled at run time), a mapping network
with a learning-rate multiplier, a synthesis network fed one w per layer with
per-pixel noise and a learned constant, a skip-architecture generator and a
residual discriminator with a minibatch standard-deviation layer.

Layer/w layout (identical in both style modes, so ``num_ws`` = 2*log2(R) - 2):
the 4x4 block has ``conv1`` (w0) and ``torgb`` (w1); every later block at
resolution r has ``conv0`` (upsampling), ``conv1`` and ``torgb``, and its
``conv0`` shares the w of the previous block's ``torgb``.

Resampling (``NetworkConfig.resampling``): "stylegan2", StyleGAN2's own layers, is
what new runs use: the generator's up-sampling conv is a transposed 3x3 stride-2
convolution at the input resolution followed by the [1,3,3,1] blur (a quarter of
the multiply-adds of convolving at the output resolution; at 256 px, channel base
16384, that is 3.7 of the synthesis network's 15.3 G multiply-adds saved per image),
and the discriminator's down-sampling conv is a blur followed by a stride-2 3x3
conv, so its taps sit on the full-resolution grid. "legacy" is the engine's first
design (resize, then convolve at the higher resolution; blur-subsample, then a 3x3
at the lower one), kept so the checkpoints written before it load and paint as
they were trained: a checkpoint whose config has no ``resampling`` key is legacy.

No custom CUDA: everything is ordinary PyTorch ops, so it runs on CPU, CUDA and
under ``torch.autocast``. Normalisation and (de)modulation are done in float32.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import NetworkConfig

NOISE_MODES = ("random", "const", "none")
LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)
# Reduced-precision activations can overflow in deep stacks; StyleGAN2-ADA clamps too.
FP16_CLAMP = 256.0
W_AVG_BETA = 0.995


def lrelu(x: Tensor) -> Tensor:
    """Leaky ReLU scaled by sqrt(2) so that activations keep unit variance."""
    return F.leaky_relu(x, LRELU_SLOPE) * LRELU_GAIN


def _clamp_half(x: Tensor) -> Tensor:
    return x.clamp(-FP16_CLAMP, FP16_CLAMP) if x.dtype == torch.float16 else x


BLUR_TAPS = (1.0, 3.0, 3.0, 1.0)


# (taps, device, dtype) -> filter. A plain dict, not ``functools.lru_cache``: ``torch.compile``
# cannot look inside an lru_cache and traced through it, so its graph made every filter again on
# the host and copied it to the device on each call (the FX graph held ``torch.tensor(taps)``
# then ``.to(device)``). A filter found in this dict is lifted into the graph as an input instead
# (``test_compiled_passes_take_the_cached_filters_as_inputs``); ``preload_filters`` fills it
# before the passes are compiled, so the first graph already finds them.
_FILTERS: dict[tuple[tuple[float, ...], torch.device, torch.dtype], Tensor] = {}


def separable_filter(taps: tuple[float, ...], device: torch.device, dtype: torch.dtype) -> Tensor:
    """The 2-D filter outer(taps, taps) / its sum, made once per device and dtype.

    Made per call it was a host-to-device copy in every blur, resampling and augmentation
    of every step, and each such copy waits for the device: an H200 sat idle between the
    kernels (``bench/training_throughput.py --sync-debug`` caught it). Never an inference
    tensor, so a filter first made while painting can later be saved for a backward pass.
    """
    key = (taps, device, dtype)
    f = _FILTERS.get(key)
    if f is None:
        with torch.inference_mode(False), torch.no_grad():
            t = torch.tensor(taps, dtype=torch.float64)
            t2 = torch.outer(t, t)
            f = (t2 / t2.sum()).to(device=device, dtype=dtype)
        _FILTERS[key] = f
    return f


def clear_filters() -> None:
    """Forget every cached filter (tests)."""
    _FILTERS.clear()


def preload_filters(device: torch.device) -> None:
    """Make the resampling filter for every dtype a pass may run in, before compiling."""
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        separable_filter(BLUR_TAPS, torch.device(device), dtype)


def _blur_kernel(channels: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    return separable_filter(BLUR_TAPS, device, dtype).expand(channels, 1, 4, 4)


def downsample2d(x: Tensor) -> Tensor:
    """Anti-aliased 2x downsampling: [1,3,3,1] blur, then stride 2."""
    c = x.shape[1]
    x = F.pad(x, (1, 1, 1, 1))
    return F.conv2d(x, _blur_kernel(c, x.device, x.dtype), stride=2, groups=c)


def upsample2d(x: Tensor) -> Tensor:
    """Legacy 2x upsampling: bilinear, which is the [1,3,3,1] filter inside the image
    but repeats the edge pixels at the border."""
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def upsample2d_fir(x: Tensor) -> Tensor:
    """StyleGAN2's 2x upsampling: zero insertion, then the [1,3,3,1] filter with gain 4,
    zero padding outside the image. One depthwise transposed conv; equal to ``upsample2d``
    away from the border pixels."""
    c = x.shape[1]
    k = _blur_kernel(c, x.device, x.dtype) * 4
    return F.conv_transpose2d(x, k, stride=2, padding=1, groups=c)


def blur2d(x: Tensor, pad: int) -> Tensor:
    """[1,3,3,1] blur at the same rate with ``pad`` zeros each side (size + 2*pad - 3)."""
    c = x.shape[1]
    return F.conv2d(F.pad(x, (pad, pad, pad, pad)), _blur_kernel(c, x.device, x.dtype), groups=c)


def conv_up2d(x: Tensor, weight: Tensor, groups: int = 1) -> Tensor:
    """StyleGAN2's up-sampling 3x3 conv: a transposed stride-2 conv at the input
    resolution (out 2H+1), then the [1,3,3,1] blur with gain 4 (out 2H).

    ``weight`` is [out, in/groups, 3, 3] as for ``F.conv2d``; it is flipped so that the
    result is the same function as zero-insertion up-sampling, blur and a 3x3
    correlation with ``weight`` at the output resolution, at a quarter of the cost.
    """
    k = weight.shape[-1]
    if groups == 1:
        wt = weight.flip([2, 3]).transpose(0, 1)
    else:
        out_total, in_per_group = weight.shape[0], weight.shape[1]
        wt = weight.flip([2, 3]).reshape(groups, out_total // groups, in_per_group, k, k)
        wt = wt.transpose(1, 2).reshape(groups * in_per_group, out_total // groups, k, k)
    x = F.conv_transpose2d(x, wt, stride=2, groups=groups)
    return blur2d(x, pad=1) * 4


def styles_fp32(affine: nn.Module, w: Tensor) -> Tensor:
    """Style vectors in float32 even under autocast: small, and they scale everything after."""
    with torch.autocast(device_type=w.device.type, enabled=False):
        return affine(w.float())


def normalize_2nd_moment(x: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    x = x.float()
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


class EqualLinear(nn.Module):
    """Fully connected layer with equalised learning rate and an lr multiplier."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        bias_init: float = 0.0,
        lr_mult: float = 1.0,
        activation: str = "linear",
    ) -> None:
        super().__init__()
        if activation not in ("linear", "lrelu"):
            raise ValueError(f"EqualLinear activation={activation!r}: use 'linear' or 'lrelu'.")
        self.in_features = in_features
        self.out_features = out_features
        self.activation = activation
        # Stored weights are N(0, 1/lr_mult^2); run-time scaling restores He init and
        # makes Adam's effective step lr_mult times smaller.
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mult)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init))) if bias else None
        self.weight_gain = lr_mult / math.sqrt(in_features)
        self.bias_gain = lr_mult

    def forward(self, x: Tensor) -> Tensor:
        w = self.weight * self.weight_gain
        b = self.bias * self.bias_gain if self.bias is not None else None
        if not torch.is_autocast_enabled():
            w = w.to(x.dtype)
            b = b.to(x.dtype) if b is not None else None
        x = F.linear(x, w, b)
        return lrelu(x) if self.activation == "lrelu" else x

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, act={self.activation}"


class EqualConv2d(nn.Module):
    """Convolution with equalised learning rate, optional 2x up/down sampling."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        bias: bool = True,
        activation: str = "linear",
        up: bool = False,
        down: bool = False,
        resampling: str = "stylegan2",
    ) -> None:
        super().__init__()
        if up and down:
            raise ValueError("EqualConv2d cannot both upsample and downsample.")
        self.resampling = resampling
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.activation = activation
        self.up = up
        self.down = down
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)

    def forward(self, x: Tensor) -> Tensor:
        w = self.weight * self.weight_gain
        w = w if torch.is_autocast_enabled() else w.to(x.dtype)
        if self.up:
            x = conv_up2d(x, w) if self.resampling == "stylegan2" else upsample2d(x)
        if self.down and self.resampling == "stylegan2":
            # StyleGAN2: blur at full resolution, then a stride-2 conv, whose taps lie on the
            # full-resolution grid: a 3x3 sees 3 + 3 = 6 input pixels across (blur included).
            if self.kernel_size == 1:
                # A 1x1 after blur+subsample is the same as blur + stride-2 1x1, and cheaper.
                x = F.conv2d(downsample2d(x), w)
            else:
                x = F.conv2d(blur2d(x, pad=2), w, stride=2)
        else:
            if self.down:
                # Legacy: blur and subsample first, then the 3x3 at the lower resolution; its
                # taps lie 2 input pixels apart, so it spans 4 + 2*2 = 8 input pixels but never
                # sees detail finer than the blur lets through (the same multiply-adds).
                x = downsample2d(x)
            if not (self.up and self.resampling == "stylegan2"):
                x = F.conv2d(x, w, padding=self.kernel_size // 2)
        if self.bias is not None:
            x = x + self.bias.to(x.dtype).view(1, -1, 1, 1)
        if self.activation == "lrelu":
            x = lrelu(x)
        return _clamp_half(x)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}->{self.out_channels}, k={self.kernel_size}, "
            f"up={self.up}, down={self.down}, act={self.activation}, resampling={self.resampling}"
        )


class MappingNetwork(nn.Module):
    """z (and optional class label) -> w, broadcast to one w per synthesis layer."""

    def __init__(
        self,
        z_dim: int,
        w_dim: int,
        num_ws: int,
        num_layers: int = 8,
        lr_mult: float = 0.01,
        num_classes: int = 0,
    ) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.w_dim = w_dim
        self.num_ws = num_ws
        self.num_classes = num_classes
        self.embed = EqualLinear(num_classes, w_dim) if num_classes > 0 else None
        in_dim = z_dim + (w_dim if num_classes > 0 else 0)
        dims = [in_dim] + [w_dim] * num_layers
        self.layers = nn.ModuleList(
            EqualLinear(dims[i], dims[i + 1], lr_mult=lr_mult, activation="lrelu") for i in range(num_layers)
        )
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(
        self,
        z: Tensor,
        c: Tensor | None = None,
        psi: float = 1.0,
        truncation_cutoff: int | None = None,
        update_w_avg: bool = False,
    ) -> Tensor:
        """ws [N, num_ws, w_dim]. Truncation w_avg + psi * (w - w_avg) applies to the first
        ``truncation_cutoff`` layers (all when None); ``update_w_avg`` tracks w_avg during training."""
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"MappingNetwork expects z of shape [N, {self.z_dim}], got {list(z.shape)}.")
        x = normalize_2nd_moment(z)
        if self.num_classes > 0:
            if c is None:
                raise ValueError(
                    f"This generator is class-conditional ({self.num_classes} classes): pass c, "
                    f"a one-hot tensor of shape [N, {self.num_classes}]."
                )
            if c.shape != (z.shape[0], self.num_classes):
                raise ValueError(
                    f"MappingNetwork expects c of shape [{z.shape[0]}, {self.num_classes}], "
                    f"got {list(c.shape)}."
                )
            y = normalize_2nd_moment(self.embed(c.to(z.device, torch.float32)))
            x = torch.cat([x, y], dim=1)
        elif c is not None and c.numel() > 0:
            raise ValueError("This generator is unconditional (num_classes=0): pass c=None.")
        for layer in self.layers:
            x = layer(x)
        w = x.float()
        if update_w_avg:
            with torch.no_grad():
                self.w_avg.copy_(w.detach().mean(dim=0).lerp(self.w_avg, W_AVG_BETA))
        ws = w.unsqueeze(1).repeat(1, self.num_ws, 1)
        if psi != 1.0:
            cutoff = self.num_ws if truncation_cutoff is None else int(truncation_cutoff)
            if not 0 <= cutoff <= self.num_ws:
                raise ValueError(f"truncation_cutoff={truncation_cutoff} must be in 0..{self.num_ws}.")
            ws = ws.clone()
            ws[:, :cutoff] = self.w_avg.lerp(ws[:, :cutoff], psi)
        return ws


class StyleConv(nn.Module):
    """One synthesis layer: conv, noise, bias, activation, with a w-controlled style.

    ``modulated`` (StyleGAN2): the style scales the conv weights per sample, then
    demodulation renormalises them. ``adain`` (StyleGAN 2018): plain conv, then
    instance normalisation and a per-channel style scale and bias.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        style_mode: str,
        up: bool,
        resampling: str = "stylegan2",
    ) -> None:
        super().__init__()
        self.resampling = resampling
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.resolution = resolution
        self.style_mode = style_mode
        self.up = up
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 3, 3))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_gain = 1.0 / math.sqrt(in_channels * 9)
        if style_mode == "modulated":
            self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)
        else:
            # Scale starts at 1 and bias at 0: AdaIN initially passes the normalised features.
            self.affine = EqualLinear(w_dim, 2 * out_channels)
            with torch.no_grad():
                self.affine.bias[:out_channels].fill_(1.0)
        self.noise_strength = nn.Parameter(torch.zeros([]))
        self.register_buffer("noise_const", torch.zeros(1, 1, resolution, resolution))

    def forward(self, x: Tensor, w: Tensor, noise_mode: str, noise: Tensor | None = None) -> Tensor:
        n = x.shape[0]
        transposed = self.up and self.resampling == "stylegan2"
        if self.up and not transposed:
            x = upsample2d(x)
        weight = self.weight.float() * self.weight_gain
        if self.style_mode == "modulated":
            x = self._modulated_conv(x, styles_fp32(self.affine, w), weight, transposed)
        else:
            weight = weight if torch.is_autocast_enabled() else weight.to(x.dtype)
            x = conv_up2d(x, weight) if transposed else F.conv2d(x, weight, padding=1)
        x = x + self._noise(x, noise_mode, noise)
        x = lrelu(x + self.bias.to(x.dtype).view(1, -1, 1, 1))
        if self.style_mode == "adain":
            styles = styles_fp32(self.affine, w)
            scale, shift = styles[:, : self.out_channels], styles[:, self.out_channels :]
            xf = x.float()
            xf = (xf - xf.mean(dim=[2, 3], keepdim=True)) * (
                xf.var(dim=[2, 3], keepdim=True, unbiased=False) + 1e-8
            ).rsqrt()
            x = (xf * scale.view(n, -1, 1, 1) + shift.view(n, -1, 1, 1)).to(x.dtype)
        return _clamp_half(x)

    def _modulated_conv(self, x: Tensor, styles: Tensor, weight: Tensor, transposed: bool = False) -> Tensor:
        """Convolve with weights scaled by ``styles`` [N, in] and demodulated, in float32 math.

        Training uses the mathematically equal but batch-friendly form (scale the
        input, shared conv, scale the output); inference uses one grouped conv with
        per-sample weights, which avoids large intermediate activations.
        """
        n = x.shape[0]
        # sum_{i,k} (w_oik * s_i)^2 = s^2 @ (sum_k w_oik^2): no [N, out, in, k, k] tensor needed.
        with torch.autocast(device_type=x.device.type, enabled=False):  # matmul would drop to 16 bits
            demod = (styles.square() @ weight.square().sum(dim=[2, 3]).t() + 1e-8).rsqrt()  # [N, out]
        cast = not torch.is_autocast_enabled()
        if self.training:
            # Demodulation is a per-output-channel scale, so it commutes with the blur.
            x = x * styles.to(x.dtype).view(n, -1, 1, 1)
            wc = weight.to(x.dtype) if cast else weight
            x = conv_up2d(x, wc) if transposed else F.conv2d(x, wc, padding=1)
            return x * demod.to(x.dtype).view(n, -1, 1, 1)
        wmod = weight.unsqueeze(0) * styles.view(n, 1, -1, 1, 1) * demod.view(n, -1, 1, 1, 1)
        h, wd = x.shape[2], x.shape[3]
        xg = x.reshape(1, n * self.in_channels, h, wd)
        wg = wmod.reshape(n * self.out_channels, self.in_channels, 3, 3)
        wg = wg.to(x.dtype) if cast else wg
        x = conv_up2d(xg, wg, groups=n) if transposed else F.conv2d(xg, wg, padding=1, groups=n)
        return x.reshape(n, self.out_channels, x.shape[2], x.shape[3])

    def _noise(self, x: Tensor, noise_mode: str, noise: Tensor | None) -> Tensor:
        n, _, h, w = x.shape
        if noise is not None:
            if noise.shape != (n, 1, h, w):
                raise ValueError(
                    f"noise for the {h}x{w} layer must have shape [{n}, 1, {h}, {w}], "
                    f"got {list(noise.shape)}."
                )
            return noise.to(x.device, x.dtype) * self.noise_strength.to(x.dtype)
        if noise_mode == "random":
            return torch.randn(n, 1, h, w, device=x.device, dtype=x.dtype) * self.noise_strength.to(x.dtype)
        if noise_mode == "const":
            return self.noise_const.to(x.dtype) * self.noise_strength.to(x.dtype)
        return torch.zeros((), device=x.device, dtype=x.dtype)


class ToRGB(nn.Module):
    """1x1 conv to RGB, modulated by its style but not demodulated (as in StyleGAN2)."""

    def __init__(self, in_channels: int, w_dim: int) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(3, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(3))
        self.weight_gain = 1.0 / math.sqrt(in_channels)

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        # Scaling the input by the style equals modulating the 1x1 weights; cheaper.
        styles = styles_fp32(self.affine, w) * self.weight_gain
        x = x * styles.to(x.dtype).view(x.shape[0], -1, 1, 1)
        weight = self.weight if torch.is_autocast_enabled() else self.weight.to(x.dtype)
        x = F.conv2d(x, weight) + self.bias.to(x.dtype).view(1, -1, 1, 1)
        return x.float()


class SynthesisBlock(nn.Module):
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        style_mode: str,
        resampling: str = "stylegan2",
    ) -> None:
        super().__init__()
        self.resolution = resolution
        self.resampling = resampling
        self.is_first = in_channels == 0
        if self.is_first:
            self.const = nn.Parameter(torch.randn(out_channels, 4, 4))
            self.conv0 = None
        else:
            self.conv0 = StyleConv(
                in_channels, out_channels, w_dim, resolution, style_mode, up=True, resampling=resampling
            )
        self.conv1 = StyleConv(out_channels, out_channels, w_dim, resolution, style_mode, up=False)
        self.torgb = ToRGB(out_channels, w_dim)
        self.num_conv = 1 if self.is_first else 2

    def forward(
        self,
        x: Tensor | None,
        img: Tensor | None,
        ws: Tensor,
        noise_mode: str,
        noise: Sequence[Tensor | None],
    ) -> tuple[Tensor, Tensor]:
        """ws: [N, num_conv + 1, w_dim], the block's convs then its toRGB."""
        if self.is_first:
            x = self.const.unsqueeze(0).repeat(ws.shape[0], 1, 1, 1)
            x = self.conv1(x, ws[:, 0], noise_mode, noise[0])
        else:
            x = self.conv0(x, ws[:, 0], noise_mode, noise[0])
            x = self.conv1(x, ws[:, 1], noise_mode, noise[1])
        y = self.torgb(x, ws[:, self.num_conv])
        if img is not None:
            img = upsample2d_fir(img) if self.resampling == "stylegan2" else upsample2d(img)
        img = y if img is None else img + y
        return x, img


class SynthesisNetwork(nn.Module):
    """ws [N, num_ws, w_dim] -> image [N, 3, R, R] in roughly [-1, 1]."""

    def __init__(self, cfg: NetworkConfig) -> None:
        super().__init__()
        self.w_dim = cfg.w_dim
        self.img_resolution = cfg.resolution
        self.num_ws = cfg.num_ws
        resolutions = [2**i for i in range(2, cfg.log2_resolution + 1)]
        self.block_resolutions = resolutions
        blocks = []
        for res in resolutions:
            in_ch = 0 if res == 4 else cfg.channels_at(res // 2)
            blocks.append(
                SynthesisBlock(in_ch, cfg.channels_at(res), cfg.w_dim, res, cfg.style_mode, cfg.resampling)
            )
        self.blocks = nn.ModuleList(blocks)
        self.reset_const_noise(seed=0)

    @property
    def noise_layers(self) -> list[StyleConv]:
        """Every layer that takes a noise input, in the order of ``noise`` arguments."""
        layers = []
        for block in self.blocks:
            if block.conv0 is not None:
                layers.append(block.conv0)
            layers.append(block.conv1)
        return layers

    @torch.no_grad()
    def reset_const_noise(self, seed: int = 0) -> None:
        """Fill the fixed noise buffers used by noise_mode='const' from a seeded CPU generator."""
        gen = torch.Generator().manual_seed(seed)
        for layer in self.noise_layers:
            r = layer.resolution
            layer.noise_const.copy_(torch.randn(1, 1, r, r, generator=gen))

    def make_noise(self, seeds: Sequence[int]) -> list[Tensor]:
        """Per-sample noise for every layer, drawn on CPU from each seed (device-independent)."""
        per_layer: list[list[Tensor]] = [[] for _ in self.noise_layers]
        for seed in seeds:
            gen = torch.Generator().manual_seed(int(seed))
            for i, layer in enumerate(self.noise_layers):
                r = layer.resolution
                per_layer[i].append(torch.randn(1, 1, r, r, generator=gen))
        return [torch.cat(t, dim=0) for t in per_layer]

    def forward(
        self, ws: Tensor, noise_mode: str = "random", noise: Sequence[Tensor] | None = None
    ) -> Tensor:
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode={noise_mode!r} is unknown: choose one of {', '.join(NOISE_MODES)}.")
        if ws.ndim != 3 or ws.shape[1] != self.num_ws or ws.shape[2] != self.w_dim:
            raise ValueError(
                f"SynthesisNetwork at {self.img_resolution}px expects ws of shape "
                f"[N, {self.num_ws}, {self.w_dim}], got {list(ws.shape)}."
            )
        num_noise = len(self.noise_layers)
        if noise is not None and len(noise) != num_noise:
            raise ValueError(f"noise must hold {num_noise} tensors (one per noise layer), got {len(noise)}.")
        x = img = None
        w_idx = noise_idx = 0
        for block in self.blocks:
            block_ws = ws[:, w_idx : w_idx + block.num_conv + 1]
            block_noise = (
                list(noise[noise_idx : noise_idx + block.num_conv])
                if noise is not None
                else [None] * block.num_conv
            )
            x, img = block(x, img, block_ws, noise_mode, block_noise)
            w_idx += block.num_conv
            noise_idx += block.num_conv
        assert img is not None
        assert img.shape[1:] == (3, self.img_resolution, self.img_resolution)
        return img


class Generator(nn.Module):
    def __init__(self, cfg: NetworkConfig) -> None:
        super().__init__()
        self.config = cfg
        self.z_dim = cfg.z_dim
        self.w_dim = cfg.w_dim
        self.num_classes = cfg.num_classes
        self.img_resolution = cfg.resolution
        self.num_ws = cfg.num_ws
        self.synthesis = SynthesisNetwork(cfg)
        self.mapping = MappingNetwork(
            cfg.z_dim,
            cfg.w_dim,
            cfg.num_ws,
            num_layers=cfg.mapping_layers,
            lr_mult=cfg.mapping_lr_mult,
            num_classes=cfg.num_classes,
        )

    def forward(
        self,
        z: Tensor,
        c: Tensor | None = None,
        psi: float = 1.0,
        truncation_cutoff: int | None = None,
        noise_mode: str = "random",
        update_w_avg: bool = False,
    ) -> Tensor:
        ws = self.mapping(z, c, psi=psi, truncation_cutoff=truncation_cutoff, update_w_avg=update_w_avg)
        return self.synthesis(ws, noise_mode=noise_mode)


def minibatch_stddev(x: Tensor, group_size: int) -> Tensor:
    """Append one feature map: the std of features across a group of samples.

    The group is the largest divisor of the batch not above ``group_size``, so
    any batch size works (a batch of 1 gets a zero map).
    """
    n, c, h, w = x.shape
    g = min(group_size, n)
    while n % g:
        g -= 1
    y = x.float().reshape(g, n // g, c, h, w)
    y = (y - y.mean(dim=0)).square().mean(dim=0)
    y = (y + 1e-8).sqrt().mean(dim=[1, 2, 3])  # [n // g]
    y = y.reshape(-1, 1, 1, 1).repeat(g, 1, h, w).to(x.dtype)
    return torch.cat([x, y], dim=1)


class DiscriminatorBlock(nn.Module):
    """Residual block: two 3x3 convs (second downsamples) plus a 1x1 downsampling skip.

    Why the stride-2 form matters (the demo models' speckle): in the legacy block only
    ``conv0`` sees the full-resolution grid; ``conv1`` sees a blurred, subsampled copy. So
    the top block can tell how much pixel-level detail an image has, but little about its
    shape, and a generator can answer the paintings' brush strokes with per-pixel noise:
    the shipped 64-px portraits' samples have mean absolute Laplacian 27.5 with noise on,
    3.0 with it off, the real paintings 25.6. With blur + stride-2 conv both 3x3 layers
    look at full-resolution neighbourhoods (docs/benchmarks.md, *Speckle*).
    """

    def __init__(self, in_channels: int, out_channels: int, resampling: str = "stylegan2") -> None:
        super().__init__()
        self.conv0 = EqualConv2d(in_channels, in_channels, 3, activation="lrelu")
        self.conv1 = EqualConv2d(
            in_channels, out_channels, 3, activation="lrelu", down=True, resampling=resampling
        )
        # Blur + stride-2 1x1 without bias in both modes; summed with the main path, times sqrt(0.5).
        self.skip = EqualConv2d(in_channels, out_channels, 1, bias=False, down=True, resampling=resampling)

    def forward(self, x: Tensor) -> Tensor:
        y = self.skip(x)
        x = self.conv1(self.conv0(x))
        return (x + y) * math.sqrt(0.5)


class Discriminator(nn.Module):
    """image [N, 3, R, R] (and one-hot c) -> logits [N, 1].

    Class conditioning is by projection: the final features are dotted with a
    learned embedding of the label.
    """

    def __init__(self, cfg: NetworkConfig) -> None:
        super().__init__()
        self.config = cfg
        self.img_resolution = cfg.resolution
        self.num_classes = cfg.num_classes
        self.mbstd_group = cfg.mbstd_group
        top = cfg.channels_at(cfg.resolution)
        self.fromrgb = EqualConv2d(3, top, 1, activation="lrelu")
        blocks = []
        res = cfg.resolution
        while res > 4:
            blocks.append(DiscriminatorBlock(cfg.channels_at(res), cfg.channels_at(res // 2), cfg.resampling))
            res //= 2
        self.blocks = nn.ModuleList(blocks)
        c4 = cfg.channels_at(4)
        self.conv = EqualConv2d(c4 + 1, c4, 3, activation="lrelu")
        self.fc = EqualLinear(c4 * 16, c4, activation="lrelu")
        self.cmap_dim = c4 if cfg.num_classes > 0 else 1
        self.out = EqualLinear(c4, self.cmap_dim)
        self.embed = EqualLinear(cfg.num_classes, self.cmap_dim) if cfg.num_classes > 0 else None

    def forward(self, img: Tensor, c: Tensor | None = None) -> Tensor:
        r = self.img_resolution
        if img.ndim != 4 or img.shape[1:] != (3, r, r):
            raise ValueError(
                f"Discriminator expects images of shape [N, 3, {r}, {r}], got {list(img.shape)}."
            )
        x = self.fromrgb(img)
        for block in self.blocks:
            x = block(x)
        x = minibatch_stddev(x, self.mbstd_group)
        x = self.conv(x)
        x = self.fc(x.flatten(1))
        x = self.out(x).float()
        if self.embed is None:
            if c is not None and c.numel() > 0:
                raise ValueError("This discriminator is unconditional (num_classes=0): pass c=None.")
            return x
        if c is None or c.shape != (img.shape[0], self.num_classes):
            got = None if c is None else list(c.shape)
            raise ValueError(
                "This discriminator is class-conditional: pass c of shape "
                f"[{img.shape[0]}, {self.num_classes}], got {got}."
            )
        cmap = normalize_2nd_moment(self.embed(c.to(x.device, torch.float32)))
        return (x * cmap).sum(dim=1, keepdim=True) / math.sqrt(self.cmap_dim)


def build_networks(cfg: NetworkConfig) -> tuple[Generator, Discriminator]:
    """A freshly initialised generator/discriminator pair for ``cfg``."""
    return Generator(cfg), Discriminator(cfg)
