"""Generation from seeds: determinism, truncation, style mixing, interpolation, figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from training.engine.generate import (
    generate_images,
    images_to_grid,
    interpolate,
    mixing_figure,
    seed_to_z,
    style_bands,
    style_mix,
    style_mix_bands,
)
from training.engine.networks import Generator, build_networks

ROOT = Path(__file__).resolve().parents[3]


def _pixel_change(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())


def test_seed_to_z_is_deterministic_cpu_float32() -> None:
    z = seed_to_z([0, 1, 0], 64)
    assert z.shape == (3, 64)
    assert z.dtype == torch.float32
    assert z.device.type == "cpu"
    assert torch.equal(z[0], z[2])
    assert not torch.equal(z[0], z[1])
    # The reference projects' convention, so seeds mean the same latents there and here.
    assert np.allclose(z[1].numpy(), np.random.RandomState(1).randn(64).astype(np.float32))
    with pytest.raises(ValueError, match="seed -1"):
        seed_to_z([-1], 8)


def test_same_seed_same_pixels_and_different_seeds_differ(tiny_generator: Generator) -> None:
    a = generate_images(tiny_generator, [7, 8, 9])
    b = generate_images(tiny_generator, [7, 8, 9])
    assert a.shape == (3, 32, 32, 3)
    assert a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert _pixel_change(a[0], a[1]) > 5
    assert _pixel_change(a[1], a[2]) > 5


@pytest.mark.parametrize("noise_mode", ["const", "random", "none"])
def test_a_seed_renders_the_same_whatever_batch_it_is_in(tiny_generator: Generator, noise_mode: str) -> None:
    """The gallery regenerates an artwork from (checkpoint, seed): companions must not matter."""
    with torch.no_grad():
        for layer in tiny_generator.synthesis.noise_layers:
            layer.noise_strength.fill_(0.3)
    alone = generate_images(tiny_generator, [42], noise_mode=noise_mode, batch_size=4)
    crowd = generate_images(tiny_generator, [1, 2, 42, 3, 4, 5], noise_mode=noise_mode, batch_size=4)
    assert np.array_equal(alone[0], crowd[2])


def test_random_noise_is_seeded_per_image(tiny_generator: Generator) -> None:
    with torch.no_grad():
        for layer in tiny_generator.synthesis.noise_layers:
            layer.noise_strength.fill_(0.5)
    a = generate_images(tiny_generator, [3], noise_mode="random")
    b = generate_images(tiny_generator, [3], noise_mode="random")
    const = generate_images(tiny_generator, [3], noise_mode="const")
    assert np.array_equal(a, b)
    assert not np.array_equal(a, const)


def test_psi_zero_makes_every_seed_the_same_image(tiny_generator: Generator) -> None:
    with torch.no_grad():
        tiny_generator.mapping(torch.randn(64, 32), update_w_avg=True)
    images = generate_images(tiny_generator, [1, 2, 3, 4, 5], psi=0.0)
    for img in images[1:]:
        assert np.array_equal(img, images[0])
    varied = generate_images(tiny_generator, [1, 2], psi=1.0)
    assert not np.array_equal(varied[0], varied[1])
    # With a cutoff only the first layers are truncated, so seeds still differ.
    cut = generate_images(tiny_generator, [1, 2], psi=0.0, truncation_cutoff=2)
    assert not np.array_equal(cut[0], cut[1])


def test_class_index_selects_the_room(tiny_config) -> None:
    torch.manual_seed(0)
    G, _ = build_networks(tiny_config(num_classes=4))
    a = generate_images(G, [5], class_idx=0)
    b = generate_images(G, [5], class_idx=3)
    assert _pixel_change(a, b) > 1
    assert np.array_equal(a, generate_images(G, [5], class_idx=0))
    with pytest.raises(ValueError, match="class_idx from 0 to 3"):
        generate_images(G, [5])
    with pytest.raises(ValueError, match="class_idx from 0 to 3"):
        generate_images(G, [5], class_idx=4)


def test_unconditional_generator_refuses_a_class(tiny_generator: Generator) -> None:
    with pytest.raises(ValueError, match="unconditional"):
        generate_images(tiny_generator, [1], class_idx=0)


def test_style_bands_follow_the_reference_split_at_256px() -> None:
    bands = style_bands(14)
    assert bands == {"coarse": range(0, 4), "middle": range(4, 8), "fine": range(8, 14)}


@pytest.mark.parametrize("num_ws", [8, 10, 12, 14, 16, 18])
def test_style_bands_partition_every_resolution(num_ws: int) -> None:
    bands = style_bands(num_ws)
    layers = [i for name in ("coarse", "middle", "fine") for i in bands[name]]
    assert layers == list(range(num_ws)), "bands are in order, disjoint and cover every layer"
    assert all(len(bands[name]) > 0 for name in ("coarse", "middle", "fine"))


def test_style_bands_reject_impossible_counts() -> None:
    with pytest.raises(ValueError, match="num_ws=7"):
        style_bands(7)


@pytest.mark.parametrize("band", ["coarse", "middle", "fine"])
def test_mixing_a_seed_with_itself_gives_back_its_image(tiny_generator: Generator, band: str) -> None:
    seeds = [11, 12, 13]
    result = style_mix(tiny_generator, seeds, seeds, band)
    assert result.grid.shape == (3, 3, 32, 32, 3)
    assert result.rows.shape == result.cols.shape == (3, 32, 32, 3)
    assert np.array_equal(result.rows, generate_images(tiny_generator, seeds))
    for i in range(3):
        assert np.array_equal(result.grid[i, i], result.rows[i])
    assert result.layers == list(style_bands(tiny_generator.num_ws)[band])


def test_mixing_no_layers_is_a_and_all_layers_is_b(tiny_generator: Generator) -> None:
    rows, cols = [1, 2], [3, 4, 5]
    nothing = style_mix(tiny_generator, rows, cols, [])
    everything = style_mix(tiny_generator, rows, cols, range(tiny_generator.num_ws))
    for r in range(2):
        for c in range(3):
            assert np.array_equal(nothing.grid[r, c], nothing.rows[r])
            assert np.array_equal(everything.grid[r, c], everything.cols[c])


def test_mixing_and_interpolation_truncate_as_generate_does(tiny_generator: Generator) -> None:
    """A room painted with its coarse styles truncated hangs exhibits and walks painted the same way:
    the mixing sources and the walk's end frames are the room's own paintings of those seeds."""
    with torch.no_grad():
        tiny_generator.mapping(torch.randn(64, 32), update_w_avg=True)
    rows, cols = [1, 2], [3, 4]
    cut = style_mix(tiny_generator, rows, cols, "fine", psi=0.0, truncation_cutoff=2)
    assert np.array_equal(cut.rows, generate_images(tiny_generator, rows, psi=0.0, truncation_cutoff=2))
    assert np.array_equal(cut.cols, generate_images(tiny_generator, cols, psi=0.0, truncation_cutoff=2))
    assert not np.array_equal(cut.rows[0], cut.rows[1])  # only the coarse styles went to the average
    untruncated = style_mix(tiny_generator, rows, cols, "fine", psi=0.0)
    assert np.array_equal(untruncated.rows[0], untruncated.rows[1])
    frames = interpolate(tiny_generator, [5, 6], 3, psi=0.0, truncation_cutoff=2)
    assert np.array_equal(
        frames[[0, -1]], generate_images(tiny_generator, [5, 6], psi=0.0, truncation_cutoff=2)
    )


def test_an_exhibits_bands_painted_together_match_each_band_alone(tiny_generator: Generator) -> None:
    rows, cols = [7, 8, 9], [10, 11]
    together = style_mix_bands(tiny_generator, rows, cols, ["coarse", "middle", "fine"], psi=0.7)
    assert [result.band for result in together] == ["coarse", "middle", "fine"]
    for result in together:
        alone = style_mix(tiny_generator, rows, cols, result.band, psi=0.7)
        assert result.layers == alone.layers
        assert np.array_equal(result.grid, alone.grid)
        assert np.array_equal(result.rows, alone.rows)
        assert np.array_equal(result.cols, alone.cols)
    assert not np.array_equal(together[0].grid, together[2].grid)


def test_coarse_mixing_changes_the_picture_more_than_fine_mixing(tiny_config) -> None:
    """Measured in pixels against A, over several random networks, both style modes and two sizes."""
    totals = {"coarse": 0.0, "fine": 0.0}
    for resolution, style_mode, net_seed in [
        (32, "modulated", 0),
        (32, "modulated", 1),
        (32, "adain", 0),
        (32, "adain", 1),
        (64, "modulated", 0),
    ]:
        torch.manual_seed(net_seed)
        G = Generator(tiny_config(resolution=resolution, style_mode=style_mode))
        change = {}
        for band in totals:
            result = style_mix(G, [1, 2, 3], [4, 5, 6], band)
            change[band] = _pixel_change(result.grid, result.rows[:, None])
            totals[band] += change[band]
        assert change["coarse"] > change["fine"], (resolution, style_mode, net_seed, change)
    assert totals["coarse"] > 1.3 * totals["fine"]


def test_mixing_figure_lays_out_sources_and_grid(tiny_generator: Generator) -> None:
    result = style_mix(tiny_generator, [1, 2], [3, 4, 5], "middle")
    fig = np.asarray(mixing_figure(result, gap=4))
    h = w = 32
    # 3 B columns plus the A column; 2 A rows plus the B row; gaps between, an extra one after the sources.
    assert fig.shape == (3 * h + 3 * 4, 4 * w + 4 * 4, 3)
    assert (fig[:h, :w] == 255).all(), "top-left corner stays blank"
    x0, y0 = w + 2 * 4, h + 2 * 4
    assert np.array_equal(fig[:h, x0 : x0 + w], result.cols[0])
    assert np.array_equal(fig[:h, x0 + 2 * (w + 4) : x0 + 2 * (w + 4) + w], result.cols[2])
    assert np.array_equal(fig[y0 : y0 + h, :w], result.rows[0])
    assert np.array_equal(fig[y0 + h + 4 : y0 + 2 * h + 4, :w], result.rows[1])
    assert np.array_equal(fig[y0 + h + 4 : y0 + 2 * h + 4, x0 + w + 4 : x0 + 2 * w + 4], result.grid[1, 1])
    assert (fig[y0 - 4 : y0, :] == 255).all(), "white margin between the B row and the grid"


def test_interpolation_walks_from_seed_to_seed(tiny_generator: Generator) -> None:
    frames = interpolate(tiny_generator, [1, 2, 3], steps_per_pair=4)
    assert frames.shape == (9, 32, 32, 3)
    ends = generate_images(tiny_generator, [1, 2, 3])
    assert np.array_equal(frames[0], ends[0])
    assert np.array_equal(frames[4], ends[1])
    assert np.array_equal(frames[8], ends[2])
    # Consecutive frames are closer to each other than the two endpoints are.
    step = max(_pixel_change(frames[i], frames[i + 1]) for i in range(4))
    assert step < _pixel_change(frames[0], frames[4])
    with pytest.raises(ValueError, match="at least two seeds"):
        interpolate(tiny_generator, [1], steps_per_pair=4)


def test_images_to_grid_tiles_row_by_row() -> None:
    images = np.stack([np.full((4, 6, 3), i * 40, np.uint8) for i in range(5)])
    grid = np.asarray(images_to_grid(images, cols=3))
    assert grid.shape == (8, 18, 3)
    assert (grid[4:, 6:12] == 160).all()  # image 4 at row 1, column 1
    assert (grid[4:, 12:] == 255).all()  # the unused cell is white


def test_generation_moves_the_generator_to_the_requested_device(tiny_generator: Generator) -> None:
    images = generate_images(tiny_generator, [1, 2], device="cpu", batch_size=1)
    assert images.shape == (2, 32, 32, 3)


def test_the_engine_imports_no_django() -> None:
    code = (
        "import sys, training.engine.config, training.engine.networks, training.engine.generate, "
        "training.engine.metrics; "
        "bad = sorted(m for m in sys.modules if m.startswith('django')); "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=120)
