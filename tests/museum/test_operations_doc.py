"""docs/operations.md names every environment variable the settings read, so a
deployment can see everything it may set (the login limit among them)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_FILES = [ROOT / "museum" / "settings.py", ROOT / "scraper" / "crawling" / "settings.py"]
READS = re.compile(r'(?:environ(?:\.get)?[(\[]\s*|env_(?:bool|int|list)\(\s*)"([A-Z][A-Z0-9_]+)"')


def variables_read() -> set[str]:
    return {name for path in SETTINGS_FILES for name in READS.findall(path.read_text())}


def test_every_setting_read_from_the_environment_is_documented():
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", (ROOT / "docs" / "operations.md").read_text()))
    found = variables_read()

    assert {"DJANGO_SECRET_KEY", "SCRAPER_USER_AGENT", "SCRAPER_DOWNLOAD_MAXSIZE"} <= found  # the scan works
    assert found - documented == set()


def test_the_login_limit_settings_are_documented():
    text = (ROOT / "docs" / "operations.md").read_text()
    for name in ("DJANGO_LOGIN_FAILURE_LIMIT", "DJANGO_LOGIN_COOLOFF_MINUTES", "DJANGO_TRUSTED_PROXY_COUNT"):
        assert f"`{name}`" in text
    assert "django-axes==8.3.1" in text
