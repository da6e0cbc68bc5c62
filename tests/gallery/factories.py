"""Test factories for the gallery: real rows with real (small) image files."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth.models import Permission, User
from django.utils import timezone

from gallery.models import Artwork, Genre, MixingExhibit
from gallery.placeholders import placeholder_exhibit, placeholder_painting
from gallery.thumbnails import save_artwork_image
from training.models import Checkpoint, TrainingRun


def genre(slug: str = "portrait") -> Genre:
    """One of the rooms seeded by the gallery's data migration."""
    return Genre.objects.get(slug=slug)


def make_checkpoint(room: Genre | None = None, kimg: float = 1200.0) -> Checkpoint:
    run = TrainingRun.objects.create(genre=room or genre(), status=TrainingRun.Status.SUCCEEDED)
    return Checkpoint.objects.create(run=run, kimg=kimg, file="checkpoints/test.pt", sha256="0" * 64)


def make_artwork(
    room: Genre | None = None,
    *,
    seed: int = 0,
    published: bool = True,
    created: datetime | None = None,
    size: int = 48,
    **fields: object,
) -> Artwork:
    """An artwork with its painting and thumbnails written to (test) storage."""
    room = room or genre()
    artwork = Artwork(
        genre=room,
        title=fields.pop("title", f"Study {seed}"),
        seed=seed,
        published=published,
        created=created or timezone.now(),
        **fields,
    )
    return save_artwork_image(artwork, placeholder_painting(seed, room.slug, size))


def bulk_artworks(
    room: Genre, count: int, *, published: bool = True, start_seed: int = 1000
) -> list[Artwork]:
    """``count`` artworks in one INSERT, sharing one set of image files (fast for hundreds)."""
    template = make_artwork(room, seed=start_seed - 1, published=published)
    now = timezone.now()
    files = {
        name: getattr(template, name).name
        for name in ("image", "thumb_small_webp", "thumb_small_jpeg", "thumb_large_webp", "thumb_large_jpeg")
    }
    rows = [
        Artwork(
            genre=room,
            title=f"Bulk {i}",
            seed=start_seed + i,
            published=published,
            created=now - timedelta(seconds=i + 1),
            width=template.width,
            height=template.height,
            **files,
        )
        for i in range(count - 1)
    ]
    return [template, *Artwork.objects.bulk_create(rows)]


def make_exhibit(
    room: Genre | None = None, *, rows: int = 2, cols: int = 3, published: bool = True, size: int = 32
) -> MixingExhibit:
    """A mixing exhibit with sources and three bands of cells in storage."""
    return placeholder_exhibit(
        room or genre(),
        rows,
        cols,
        size,
        published,
        title="Test mixing",
        first_row_seed=10,
        first_col_seed=20,
    )


def make_staff(username: str = "curator", perms: tuple[str, ...] = ()) -> User:
    """An active staff user holding ``perms`` ("app_label.codename")."""
    user = User.objects.create_user(username, password="a-long-test-password", is_staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user
