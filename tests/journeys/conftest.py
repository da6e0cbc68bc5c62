"""Fixtures of the three journeys: English names, clean checkpoint storage,
logging in. The browser itself and the watched page are shared by every
browser test (``tests/conftest.py``'s ``browser``, ``tests/browser.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import unquote

import pytest

from tests.browser import Watched, open_page

__all__ = ["PASSWORD", "Watched", "log_in", "open_page", "user_in_group"]

PASSWORD = "a-long-journey-password"


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """Names the test compares with pages (rooms, sources) in English, as the
    browser sees them first, whatever language an earlier test left active."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _no_checkpoint_files_left(transactional_db) -> Iterator[None]:
    """Checkpoint storage is the data folder's (its storage is bound when the
    models load, so a test cannot move it): remove the checkpoints, sample
    grids and packed datasets a journey wrote there."""
    yield
    from training.models import Checkpoint, Dataset, TrainingSample

    for rows, field in (
        (Checkpoint.objects.exclude(file=""), "file"),
        (TrainingSample.objects.exclude(image=""), "image"),
        (Dataset.objects.exclude(packed_file=""), "packed_file"),
    ):
        for row in rows:
            getattr(row, field).delete(save=False)


def log_in(watched: Watched, username: str, next_path: str = "/admin/") -> None:
    page = watched.page
    watched.go(f"/admin/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"**{unquote(next_path)}")
    # The landing page's CSS background icons (the admin's add links) may still be loading
    # after its load event; leaving at once aborts them, which the watched page counts as
    # failed requests of the next page. Let the landing page settle first.
    page.wait_for_load_state("networkidle")


def user_in_group(username: str, group: str):
    """An active staff user (may log in to the admin) in ``group`` and nothing else."""
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user(username, password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user
