"""ADA: the augmentations and the controller that steers their probability."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from training.engine.augment import (
    AdaController,
    AugmentPipe,
    affine_warp,
    downsample2x_sym6,
    filtered_warp,
    upsample2x_sym6,
)


@pytest.fixture(autouse=True)
def _one_thread():
    # The test machine's two cores are shared; one intra-op thread is far faster under load.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _images(n: int = 8, res: int = 32) -> torch.Tensor:
    torch.manual_seed(0)
    return torch.rand(n, 3, res, res) * 2 - 1


def test_p_zero_leaves_images_untouched():
    pipe = AugmentPipe()
    x = _images()
    assert torch.equal(pipe(x), x)


def test_high_p_augments_every_sample_differently_and_keeps_shape():
    pipe = AugmentPipe()
    pipe.p.fill_(0.99)
    x = _images(1).repeat(16, 1, 1, 1)  # 16 copies of one image
    torch.manual_seed(1)
    y = pipe(x)
    assert y.shape == x.shape
    assert torch.isfinite(y).all()
    changed = (y - x).abs().flatten(1).amax(1)
    assert (changed > 1e-3).all(), "every sample should be augmented when p is close to 1"
    # Per-sample parameters: no two copies of the same image come out alike.
    distinct = torch.cdist(y.flatten(1), y.flatten(1))
    assert (distinct + torch.eye(16) * 1e9).min() > 1e-3


def test_moderate_p_leaves_some_samples_unchanged_per_sample():
    pipe = AugmentPipe()
    pipe.p.fill_(0.05)
    x = _images(1).repeat(64, 1, 1, 1)
    torch.manual_seed(2)
    y = pipe(x)
    untouched = ((y - x).abs().flatten(1).amax(1) < 1e-4).sum().item()
    # Each of ~10 augmentations fires with p=0.05 independently: about 0.95**10 = 60% untouched.
    assert 10 < untouched < 60


def test_augmentations_are_differentiable():
    pipe = AugmentPipe(luma_flip=True)
    pipe.p.fill_(0.8)
    x = _images(4).requires_grad_(True)
    torch.manual_seed(3)
    pipe(x).square().sum().backward()
    assert x.grad is not None
    assert torch.isfinite(x.grad).all()
    assert (x.grad.abs().flatten(1).sum(1) > 0).all()


def test_controller_moves_p_from_zero_to_one_in_ada_kimg():
    pipe = AugmentPipe()
    batch, interval, ada_kimg = 4, 4, 0.1
    ada = AdaController(pipe, target=0.6, interval=interval, ada_kimg=ada_kimg, batch_size=batch)
    always_real = torch.ones(batch, 1)  # a discriminator that is sure every real is real: over-fitting
    step_size = batch * interval / (ada_kimg * 1000)
    for _ in range(interval * 3):
        ada.accumulate(always_real)
        ada.step()
    assert ada.p == pytest.approx(3 * step_size, rel=1e-5)
    assert ada.last_rt == 1.0
    # ada_kimg thousand images of constant over-fitting take p all the way (clamped below 1).
    for _ in range(int(ada_kimg * 1000 / batch)):
        ada.accumulate(always_real)
        ada.step()
    assert 0.999 < ada.p < 1.0


def test_controller_keeps_p_at_zero_without_overfitting_and_round_trips_state():
    pipe = AugmentPipe()
    ada = AdaController(pipe, target=0.6, interval=2, ada_kimg=0.1, batch_size=4)
    for _ in range(10):
        ada.accumulate(torch.tensor([[1.0], [-1.0], [1.0], [-1.0]]))  # rt = 0: D is unsure
        ada.step()
    assert ada.p == 0.0
    pipe.p.fill_(0.3)
    ada.accumulate(torch.ones(4, 1))
    state = ada.state_dict()
    other = AdaController(AugmentPipe(), target=0.6, interval=2, ada_kimg=0.1, batch_size=4)
    other.load_state_dict(state)
    assert other.state_dict() == state
    assert math.isclose(other.p, 0.3, rel_tol=1e-6)


@pytest.mark.parametrize("size", [(32, 32), (16, 24)])
def test_affine_warp_matches_grid_sample_with_reflection(size):
    h, w = size
    torch.manual_seed(4)
    x = torch.randn(6, 3, h, w)
    theta = torch.randn(6, 2, 3) * 0.8
    theta[:, :, 2] *= 2  # large shifts: most samples fall outside and are reflected back
    grid = F.affine_grid(theta, [6, 3, h, w], align_corners=False)
    expected = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    assert torch.allclose(affine_warp(x, theta), expected, atol=1e-5)


def test_augmentations_are_twice_differentiable_without_grid_sample(monkeypatch):
    # R1 differentiates D's input gradient again; CUDA has no double backward for grid_sample,
    # so the pipe must not use it (on CPU a fallback would hide the problem).
    def refuse(*args, **kwargs):
        raise AssertionError("grid_sample has no double backward on CUDA")

    monkeypatch.setattr(F, "grid_sample", refuse)
    pipe = AugmentPipe()
    pipe.p.fill_(0.9)
    x = _images(4).requires_grad_(True)
    torch.manual_seed(5)
    y = pipe(x)
    (grad,) = torch.autograd.grad(y.square().sum(), x, create_graph=True)
    (grad2,) = torch.autograd.grad(grad.square().sum(), x)
    assert torch.isfinite(grad2).all() and grad2.abs().sum() > 0


def test_geometric_warp_is_anti_aliased():
    """A pixel checkerboard (all its energy at the Nyquist frequency) rotated and shrunk: a plain
    bilinear warp folds it into coarse moire, the sym6-filtered warp of ADA removes it."""
    i = torch.arange(32)
    board = ((i[:, None] + i[None, :]) % 2 * 2 - 1).float()[None, None].repeat(1, 3, 1, 1)
    angle, scale = 0.7, 1.5  # output-to-input: coordinates spread 1.5x, i.e. the picture shrinks
    c, s = scale * math.cos(angle), scale * math.sin(angle)
    theta = torch.tensor([[[c, -s, 0.0], [s, c, 0.0]]])

    def coarse(t: torch.Tensor) -> float:  # spread of 4x4 block means: low-frequency content
        return F.avg_pool2d(t, 4)[..., 1:-1, 1:-1].std().item()

    assert coarse(affine_warp(board, theta)) > 0.1
    assert coarse(filtered_warp(board, theta)) < coarse(affine_warp(board, theta)) / 20


def test_sym6_resampling_round_trips_and_the_identity_warp_keeps_the_picture():
    torch.manual_seed(6)
    x = F.interpolate(torch.randn(2, 3, 8, 8, dtype=torch.float64), size=32, mode="bicubic")
    assert upsample2x_sym6(x).shape == (2, 3, 64, 64)
    assert torch.allclose(
        downsample2x_sym6(upsample2x_sym6(x))[..., 4:-4, 4:-4], x[..., 4:-4, 4:-4], atol=1e-9
    )
    identity = torch.tensor([[[1.0, 0, 0], [0, 1.0, 0]]], dtype=torch.float64).repeat(2, 1, 1)
    assert torch.allclose(filtered_warp(x, identity)[..., 4:-4, 4:-4], x[..., 4:-4, 4:-4], atol=1e-5)


def test_bgc_includes_luma_flip():
    """ADA's bgc pipeline flips luma (x -> grey axis mirror) with probability p; on by default."""
    pipe = AugmentPipe()
    assert pipe.luma_flip
    pipe.p.fill_(0.999)
    grey = torch.full((64, 3, 8, 8), 0.5)
    torch.manual_seed(7)
    out = pipe._colour(grey, pipe.p, 64, grey.device)
    # Brightness rarely takes mid-grey below 0 (std 0.2); the flip sends about half the samples there.
    below = int((out.mean(dim=[1, 2, 3]) < 0).sum())
    assert 16 <= below <= 48


def test_mixed_precision_training_augments_as_float32_does():
    # The training step calls the pipe under bf16 autocast. There, affine_grid and the matrix
    # products ran in bf16: at 256 px (a 512-px warp) the clamp to 511 gave 512 and the gather
    # read past the image (a device-side assert on an H200; an IndexError on the CPU).
    x = _images(n=4, res=256)
    pipe = AugmentPipe()
    pipe.p.fill_(1.0)
    torch.manual_seed(7)
    expected = pipe(x)
    torch.manual_seed(7)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = pipe(x)
    assert got.dtype == torch.float32
    assert torch.equal(got, expected)
