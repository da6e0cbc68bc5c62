"""Quality metrics: sliced Wasserstein distance, Fréchet distance, FID plumbing."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch

from training.engine.metrics import fid, frechet_distance, sliced_wasserstein


def _gradients(n: int, seed: int, size: int = 32) -> np.ndarray:
    """Smooth two-colour gradients at random angles: a small 'structured' image family."""
    rng = np.random.RandomState(seed)
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1)
    out = []
    for _ in range(n):
        a, b, angle = rng.rand(3), rng.rand(3), rng.rand() * 2 * np.pi
        t = ((np.cos(angle) * xx + np.sin(angle) * yy) + 1.5) / 3.0
        out.append((a * (1 - t[..., None]) + b * t[..., None]) * 255)
    return np.stack(out).astype(np.uint8)


def _noise(n: int, seed: int, size: int = 32) -> np.ndarray:
    return np.random.RandomState(seed).randint(0, 256, (n, size, size, 3)).astype(np.uint8)


def test_swd_reports_every_pyramid_level_and_their_mean() -> None:
    result = sliced_wasserstein(_gradients(16, 0, size=64), _gradients(16, 1, size=64))
    assert set(result) == {"swd_64", "swd_32", "swd_16", "swd"}
    assert result["swd"] == pytest.approx(np.mean([result["swd_64"], result["swd_32"], result["swd_16"]]))


def test_swd_is_small_for_the_same_distribution_and_large_for_a_different_one() -> None:
    real = _gradients(32, 0)
    same = sliced_wasserstein(real, real)["swd"]
    same_family = sliced_wasserstein(real, _gradients(32, 1))["swd"]
    different = sliced_wasserstein(real, _noise(32, 2))["swd"]
    assert same < 0.25 * different
    assert same_family < 0.6 * different
    assert same >= 0.0


def test_swd_is_reproducible_for_a_seed() -> None:
    real, fake = _gradients(16, 0), _noise(16, 1)
    assert sliced_wasserstein(real, fake, seed=3) == sliced_wasserstein(real, fake, seed=3)


def test_swd_accepts_sets_of_different_sizes() -> None:
    result = sliced_wasserstein(_gradients(20, 0), _gradients(12, 1))
    assert np.isfinite(result["swd"])


def test_swd_explains_bad_input() -> None:
    with pytest.raises(ValueError, match=r"fake must be a uint8 array of shape \[N, H, W, 3\]"):
        sliced_wasserstein(_gradients(4, 0), _gradients(4, 0).astype(np.float32))
    with pytest.raises(ValueError, match="same size"):
        sliced_wasserstein(_gradients(4, 0, size=32), _gradients(4, 0, size=64))
    with pytest.raises(ValueError, match="at least 16px"):
        sliced_wasserstein(_noise(4, 0, size=8), _noise(4, 1, size=8))


def test_frechet_distance_of_identical_gaussians_is_zero() -> None:
    mu = np.array([1.0, -2.0, 0.5])
    sigma = np.array([[2.0, 0.3, 0.0], [0.3, 1.0, 0.1], [0.0, 0.1, 0.5]])
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-9)
    assert frechet_distance(np.zeros(4), np.eye(4), np.zeros(4), np.eye(4)) == pytest.approx(0.0, abs=1e-12)


def test_frechet_distance_matches_the_closed_form_for_diagonal_covariances() -> None:
    # For diagonal covariances: |mu1-mu2|^2 + sum (sqrt(a_i) - sqrt(b_i))^2.
    mu1, mu2 = np.array([1.0, 2.0, 3.0]), np.array([0.0, 2.0, 5.0])
    a, b = np.array([4.0, 9.0, 1.0]), np.array([1.0, 1.0, 16.0])
    expected = 1.0 + 0.0 + 4.0 + (2 - 1) ** 2 + (3 - 1) ** 2 + (1 - 4) ** 2
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected)


def test_frechet_distance_matches_a_direct_computation_for_full_covariances() -> None:
    rng = np.random.RandomState(0)
    x, y = rng.randn(200, 5), rng.randn(200, 5) @ rng.randn(5, 5) + 1.0
    mu1, s1, mu2, s2 = x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False)
    # Via the symmetric form sqrt(sqrt(s1) s2 sqrt(s1)), which has the same trace.
    r1 = scipy.linalg.sqrtm(s1).real
    expected = ((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(r1 @ s2 @ r1).real)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-6)


def test_frechet_distance_survives_singular_covariances() -> None:
    # Fewer samples than dimensions gives rank-deficient covariances, as with small FID sets.
    rng = np.random.RandomState(1)
    x, y = rng.randn(3, 8), rng.randn(3, 8) + 0.5
    value = frechet_distance(x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False))
    assert np.isfinite(value)
    assert value > 0


def test_frechet_distance_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="covariances of shape"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), np.eye(2))


class ColourStatistics(torch.nn.Module):
    """A stand-in feature extractor with the Inception file's call signature."""

    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        x = x.float() / 255.0
        return torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3))], dim=1)


@pytest.fixture
def extractor_path(tmp_path: Path) -> Path:
    path = tmp_path / "features.pt"
    with warnings.catch_warnings():
        # The Inception weights are TorchScript, so the stand-in must be too.
        warnings.filterwarnings(
            "ignore", message=".*torch.jit.script.*deprecated", category=DeprecationWarning
        )
        torch.jit.script(ColourStatistics()).save(str(path))
    return path


def test_fid_runs_a_local_torchscript_extractor(extractor_path: Path) -> None:
    real = _gradients(24, 0)
    assert fid(real, real, extractor_path, device="cpu") == pytest.approx(0.0, abs=1e-6)
    near = fid(real, _gradients(24, 1), extractor_path, device="cpu")
    far = fid(real, _noise(24, 2), extractor_path, device="cpu")
    assert 0 < near < far


def test_fid_without_the_weights_file_says_what_to_do(tmp_path: Path) -> None:
    missing = tmp_path / "inception-2015-12-05.pt"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        fid(_gradients(4, 0), _gradients(4, 1), missing)


def test_fid_refuses_a_file_that_is_not_torchscript(tmp_path: Path) -> None:
    bogus = tmp_path / "inception.pt"
    bogus.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a TorchScript feature extractor"):
        fid(_gradients(4, 0), _gradients(4, 1), bogus)
