"""The dataset tool: any image in, one packed file out; broken inputs reported, not fatal."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from training.engine.dataset import PackedDataset, file_sha256, pack_images


def _save(im: Image.Image, path: Path, **kwargs) -> Path:
    im.save(path, **kwargs)
    return path


@pytest.fixture
def messy_folder(tmp_path: Path) -> Path:
    d = tmp_path / "messy"
    (d / "sub").mkdir(parents=True)
    rgb = np.zeros((40, 60, 3), np.uint8)
    rgb[:, :, 0] = 200
    _save(Image.fromarray(rgb), d / "ok_rgb.jpg", quality=95)
    # Grey+alpha, fully transparent: must come out white, not black.
    _save(Image.fromarray(np.zeros((32, 32, 2), np.uint8), mode="LA"), d / "grey_alpha.png")
    pal = Image.new("P", (48, 48))
    pal.putpalette([0, 0, 255] * 256)
    _save(pal, d / "sub" / "palette.gif")
    _save(Image.new("CMYK", (50, 50), (0, 255, 255, 0)), d / "cmyk.jpg", quality=95)  # CMYK red
    sixteen = Image.fromarray(np.full((36, 36), 128 * 257, np.uint16))
    _save(sixteen, d / "sixteen.png")
    # The broken ones.
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG")
    (d / "truncated.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    (d / "notes.png").write_text("this is a text file with an image extension")
    (d / "empty.jpg").write_bytes(b"")
    return d


def test_pack_survives_bad_images_and_reports_them(messy_folder: Path, tmp_path: Path):
    calls = []
    report = pack_images(
        messy_folder, tmp_path / "out.pack", 32, progress=lambda done, total: calls.append((done, total))
    )
    skipped = {Path(p).name: reason for p, reason in report.skipped}
    assert set(skipped) == {"truncated.jpg", "notes.png", "empty.jpg"}
    assert "truncated" in skipped["truncated.jpg"]
    assert "not an image" in skipped["notes.png"]
    assert "empty" in skipped["empty.jpg"]
    assert report.count == 5
    assert calls[-1] == (8, 8)
    assert report.sha256 == file_sha256(tmp_path / "out.pack")

    ds = PackedDataset(report.out_path)
    assert len(ds) == 5 and ds.resolution == 32 and ds.num_classes == 0
    # Sorted paths: cmyk, grey_alpha, ok_rgb, sixteen, sub/palette.
    by_name = dict(zip(["cmyk", "grey_alpha", "ok_rgb", "sixteen", "palette"], range(5), strict=True))
    img, label = ds[by_name["grey_alpha"]]
    assert img.dtype == np.uint8 and img.shape == (32, 32, 3) and label == -1
    assert (img == 255).all(), "transparent pixels are composited onto white"
    assert (ds[by_name["sixteen"]][0] == 128).all(), "16-bit mid-grey is scaled, not clipped to white"
    assert (ds[by_name["palette"]][0] == [0, 0, 255]).all()
    r, g, b = ds[by_name["cmyk"]][0].reshape(-1, 3).mean(0)
    assert r > 200 and g < 60 and b < 60, "CMYK red comes out red"


def test_pack_crop_and_pad_make_squares(tmp_path: Path):
    wide = np.zeros((32, 96, 3), np.uint8)
    wide[:, :32] = [255, 0, 0]  # left third red
    wide[:, 32:64] = [0, 255, 0]  # middle third green
    wide[:, 64:] = [0, 0, 255]
    src = _save(Image.fromarray(wide), tmp_path / "wide.png")
    crop = PackedDataset(pack_images([src], tmp_path / "crop.pack", 32, fit="crop").out_path)[0][0]
    assert (np.abs(crop.astype(int) - [0, 255, 0]) < 8).all(), "centre crop keeps the middle"
    pad = PackedDataset(pack_images([src], tmp_path / "pad.pack", 32, fit="pad").out_path)[0][0]
    assert (pad[:6] == 255).all() and (pad[-6:] == 255).all(), "padding adds white bars"
    assert pad[16, 2, 0] > 200 and pad[16, -3, 2] > 200, "the whole width survives"


def test_pack_mirror_doubles_with_flipped_copies_and_keeps_labels(tmp_path: Path):
    paths = []
    for i in range(3):
        a = np.zeros((16, 16, 3), np.uint8)
        a[:, : 4 + i] = 255
        paths.append(_save(Image.fromarray(a), tmp_path / f"{i}.png"))
    report = pack_images(paths, tmp_path / "m.pack", 16, mirror=True, labels=[0, 2, 1])
    ds = PackedDataset(report.out_path)
    assert len(ds) == 6 and ds.num_classes == 3
    for i in range(3):
        orig, lab0 = ds[2 * i]
        flipped, lab1 = ds[2 * i + 1]
        assert np.array_equal(flipped, orig[:, ::-1])
        assert lab0 == lab1 == [0, 2, 1][i]
    images, labels = ds.batch([5, 0])
    assert images.shape == (2, 16, 16, 3) and labels.tolist() == [1, 0]


def test_pack_refuses_bad_arguments_with_clear_errors(tmp_path: Path):
    with pytest.raises(ValueError, match="power of two"):
        pack_images(tmp_path, tmp_path / "x.pack", 100)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        pack_images(tmp_path / "missing", tmp_path / "x.pack", 32)
    (tmp_path / "junk.png").write_text("nope")
    with pytest.raises(ValueError, match="no usable image"):
        pack_images(tmp_path, tmp_path / "x.pack", 32)
    assert not (tmp_path / "x.pack").exists(), "a failed pack leaves no half-written file"


def test_packed_dataset_detects_truncation_and_foreign_files(tmp_path: Path):
    src = _save(Image.new("RGB", (20, 20), "red"), tmp_path / "a.png")
    out = pack_images([src, src], tmp_path / "d.pack", 16).out_path
    data = out.read_bytes()
    out.write_bytes(data[:-100])
    with pytest.raises(ValueError, match="truncated"):
        PackedDataset(out)
    (tmp_path / "other.bin").write_bytes(b"PK\x03\x04 not ours")
    with pytest.raises(ValueError, match="not a packed dataset"):
        PackedDataset(tmp_path / "other.bin")
