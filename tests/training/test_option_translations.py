"""The start form in Japanese: every training option's label and help, which are made
from the engine's declarations at run time, is translated, and this project's
`makemessages` keeps those translations (Django's own drops them as obsolete)."""

from __future__ import annotations

import ast
import html
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse
from django.utils import translation

from tests.training.runs_factories import approved_images, run_storage, user_in_group  # noqa: F401
from training.forms import admin_options, option_messages

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("run_storage")]
ROOT = Path(settings.BASE_DIR)


def messages() -> list[str]:
    return [m for spec in admin_options() for m in option_messages(spec) if m]


def test_the_japanese_start_form_shows_every_option_in_japanese(client):
    approved_images("portrait", 16)
    client.force_login(user_in_group("staff", "Staff"))
    body = html.unescape(
        client.get(reverse("admin:training_trainingrun_start"), HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    )
    assert "訓練" in body  # the page itself is in Japanese
    with translation.override("ja"):
        for message in messages():
            japanese = translation.gettext(message)
            assert japanese != message, f"no Japanese for {message!r}"
            assert japanese in body, message
            assert f">{message}<" not in body and f">{message}:<" not in body, message


def po_entries(path: Path) -> dict[str, str]:
    """msgid -> msgstr of a PO file's live entries (not obsolete, not fuzzy), one line each."""
    out = subprocess.run(
        ["msgattrib", "--no-obsolete", "--no-fuzzy", "--no-wrap", "--no-location", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    entries, msgid = {}, None
    for line in out.splitlines():
        if line.startswith("msgid "):
            msgid = unquote(line[6:])
        elif line.startswith("msgstr "):
            entries[msgid] = unquote(line[7:])
    return entries


def unquote(literal: str) -> str:
    return ast.literal_eval(literal)  # a PO string's escapes are Python's


def test_makemessages_keeps_the_translations_of_the_options(tmp_path, monkeypatch):
    # A copy of the translatable sources, so the command rewrites the copy's catalogue.
    for folder in ("museum", "gallery", "training", "scraper", "templates", "locale"):
        shutil.copytree(
            ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__", "*.mo")
        )
    po = tmp_path / "locale" / "ja" / "LC_MESSAGES" / "django.po"
    before = po_entries(po)
    monkeypatch.chdir(tmp_path)
    with override_settings(LOCALE_PATHS=[tmp_path / "locale"]):
        call_command("makemessages", locale=["ja"], verbosity=0)
    after = po_entries(po)
    for message in messages():
        assert message in after, f"makemessages dropped {message!r}"
        assert after[message] == before[message] != "", message
    # Nothing the source still says lost its translation either.
    assert {k for k, v in before.items() if v} <= {k for k, v in after.items() if v}
