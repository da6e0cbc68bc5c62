"""Which shipped model ``manage.py demo`` hangs in a room: the largest ``<slug>-<px>.pt`` beside it."""

from __future__ import annotations

from pathlib import Path

from gallery.management.commands.demo import DEMO_CHECKPOINT_DIR, shipped_checkpoint
from gallery.models import Genre


def room(slug: str) -> Genre:
    return Genre(slug=slug, name=slug)


def test_the_largest_size_shipped_is_the_rooms_model(tmp_path: Path) -> None:
    for name in (
        "portrait-64.pt",
        "portrait-128.pt",
        "portrait-256-old.pt",  # a copy kept aside, not a size
        "portrait-best.pt",
        "portrait-512.json",  # a sidecar, not a model
        "flower-still-life-64.pt",
    ):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "portrait-1024.pt").mkdir()  # not a file
    # The 128-px model copied beside the 64-px one replaces it in the room.
    assert shipped_checkpoint(tmp_path, room("portrait")) == tmp_path / "portrait-128.pt"
    assert shipped_checkpoint(tmp_path, room("flower-still-life")) == tmp_path / "flower-still-life-64.pt"
    # Neither the flower room's files nor anything else stands in for a room with none.
    assert shipped_checkpoint(tmp_path, room("flower")) is None
    assert shipped_checkpoint(tmp_path, room("landscape")) is None


def test_every_room_of_the_repository_has_its_shipped_model() -> None:
    for slug in ("portrait", "flower-still-life", "landscape", "cityscape"):
        path = shipped_checkpoint(DEMO_CHECKPOINT_DIR, room(slug))
        assert path is not None and path.stat().st_size > 0, slug


def test_the_shipped_models_fit_the_demos_20_mb_and_each_one_hangs() -> None:
    """The demo ships at most 20 MB of models (with their sidecars and statistics), and no model that
    no room would hang: a 128-px set copied in must take the 64-px files' place, not sit beside them."""
    shipped = [p for p in DEMO_CHECKPOINT_DIR.iterdir() if p.suffix in (".pt", ".json", ".jsonl")]
    assert sum(p.stat().st_size for p in shipped) <= 20 * 1000 * 1000
    slugs = ("portrait", "flower-still-life", "landscape", "cityscape")
    for model in (p for p in shipped if p.suffix == ".pt"):
        slug = next(s for s in slugs if model.name.startswith(f"{s}-"))
        assert shipped_checkpoint(DEMO_CHECKPOINT_DIR, room(slug)) == model, f"{model.name} hangs in no room"
