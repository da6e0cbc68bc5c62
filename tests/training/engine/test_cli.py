"""``python -m training ...`` end to end in real subprocesses: pack -> train -> generate -> mix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.training.engine.test_loop import structured_images
from training.engine.cli import parse_seeds

ROOT = Path(__file__).resolve().parents[3]
SUBCOMMANDS = ["pack", "train", "generate", "mix", "interpolate", "measure"]
TINY_FLAGS = [
    "--resolution", "32", "--z-dim", "32", "--w-dim", "32", "--mapping-layers", "2",
    "--channel-base", "1024", "--channel-max", "32", "--batch-size", "4",
]  # fmt: skip


def run_cli(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "training", *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check:
        assert proc.returncode == 0, f"{args}: {proc.stderr[-3000:]}"
    return proc


def test_help_for_every_subcommand():
    top = run_cli("--help").stdout
    for name in SUBCOMMANDS:
        assert name in top
        assert "usage: python -m training " + name in run_cli(name, "--help").stdout


def test_seed_lists():
    assert parse_seeds("0-3,42") == [0, 1, 2, 3, 42]
    with pytest.raises(Exception, match="0-9,42"):
        parse_seeds("nine")


def test_pack_train_generate_mix_interpolate_measure(tmp_path: Path):
    images = tmp_path / "images"
    images.mkdir()
    for i, img in enumerate(structured_images(12, 48)):
        Image.fromarray(img).save(images / f"{i:02d}.png")
    (images / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    pack = tmp_path / "data.pack"

    out = run_cli("pack", images, "--out", pack, "--resolution", "32", "--no-progress")
    assert "packed 12 images" in out.stdout and "1 skipped" in out.stdout
    assert "broken.jpg" in out.stderr

    run = tmp_path / "run"
    dry = run_cli("train", "--data", pack, "--run-dir", run, *TINY_FLAGS, "--dry-run")
    described = json.loads(dry.stdout)
    assert described["config"]["network"]["resolution"] == 32 and described["params_G"] > 0
    assert not run.exists(), "a dry run writes nothing"

    out = run_cli(
        "train", "--data", pack, "--run-dir", run, *TINY_FLAGS, "--total-kimg", "0.016", "--tick-kimg", "0.008",
        "--no-progress",
    )  # fmt: skip
    assert "finished at 0.016 kimg after 4 steps" in out.stdout
    ckpt = run / "checkpoints" / "ckpt-00000004.pt"
    assert ckpt.exists() and len((run / "stats.jsonl").read_text().splitlines()) == 2
    # --resume auto with a larger target continues from step 4.
    out = run_cli(
        "train", "--data", pack, "--run-dir", run, *TINY_FLAGS, "--total-kimg", "0.024", "--no-progress"
    )  # fmt: skip
    assert "after 6 steps" in out.stdout
    ckpt = run / "checkpoints" / "ckpt-00000006.pt"

    run_cli(
        "generate", "--checkpoint", ckpt, "--seeds", "0-2,42", "--psi", "0.7", "--outdir", tmp_path / "gen"
    )
    names = sorted(p.name for p in (tmp_path / "gen").iterdir())
    assert names == ["seed000000.png", "seed000001.png", "seed000002.png", "seed000042.png"]
    assert Image.open(tmp_path / "gen" / "seed000042.png").size == (32, 32)

    run_cli(
        "mix",
        "--checkpoint",
        ckpt,
        "--rows",
        "1-3",
        "--cols",
        "4,5",
        "--band",
        "coarse",
        "--out",
        tmp_path / "mix.png",
    )
    width, height = Image.open(tmp_path / "mix.png").size
    assert width >= 3 * 32 and height >= 4 * 32, "B across the top (+1 row), A down the side (+1 column)"

    run_cli(
        "interpolate", "--checkpoint", ckpt, "--seeds", "1,2", "--steps", "3", "--outdir", tmp_path / "frames"
    )
    assert len(list((tmp_path / "frames").glob("frame*.png"))) == 4

    # 12 images are too few to hold any out: the report says its reals were trained on.
    measured = json.loads(
        run_cli("measure", "--checkpoint", ckpt, "--data", pack, "--num", "16", "--json").stdout
    )
    assert measured["n_real"] == measured["n_fake"] == 12 and measured["reals_seen_in_training"]
    assert set(measured["swd_levels"]) == {"swd_32", "swd_16"} and measured["swd"] > measured["swd_floor"] > 0
    assert measured["passed"] is False and measured["reasons"], "a 6-step model is no painter"
    assert measured["kimg"] == 0.024 and "too small to hold images out" in measured["notes"][0]
    table = run_cli("measure", "--checkpoint", ckpt, "--data", pack, "--num", "16").stdout
    assert "verdict: FAILED" in table and "SWD" in table and "precision" in table and "copies" in table


def test_errors_are_one_clear_line(tmp_path: Path):
    proc = run_cli(
        "generate", "--checkpoint", tmp_path / "missing.pt", "--seeds", "0", "--outdir", tmp_path, check=False
    )
    assert proc.returncode == 2
    assert (
        proc.stderr.startswith("error: ") and "missing.pt" in proc.stderr and "Traceback" not in proc.stderr
    )
    proc = run_cli(
        "generate", "--checkpoint", tmp_path / "x.pt", "--seeds", "a-b", "--outdir", tmp_path, check=False
    )
    assert proc.returncode == 2 and "0-9,42" in proc.stderr


def test_pack_class_subfolders_makes_a_conditional_dataset(tmp_path: Path, capsys):
    from training.engine.cli import main
    from training.engine.dataset import PackedDataset

    for genre, count in (("flowers", 2), ("portrait", 3)):
        (tmp_path / "src" / genre).mkdir(parents=True)
        for i, img in enumerate(structured_images(count, 32, seed=count)):
            Image.fromarray(img).save(tmp_path / "src" / genre / f"{i}.png")
    pack = tmp_path / "genres.pack"
    assert (
        main(
            [
                "pack",
                str(tmp_path / "src"),
                "--out",
                str(pack),
                "--resolution",
                "32",
                "--class-subfolders",
                "--no-progress",
            ]
        )
        == 0
    )
    assert "0=flowers, 1=portrait" in capsys.readouterr().out
    ds = PackedDataset(pack)
    assert ds.num_classes == 2 and ds.labels.tolist() == [0, 0, 1, 1, 1]


def test_engine_imports_no_django():
    code = (
        "import sys\n"
        "import training.engine.cli, training.engine.loop, training.engine.checkpoint, training.engine.distributed\n"
        "assert not [m for m in sys.modules if m == 'django' or m.startswith('django.')], 'django was imported'\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
