"""The local secret key: random, kept in the data folder (never in the
repository), made on first use. Development settings and `make run` (which
runs with DEBUG off, so it must pass a key) share it."""

from __future__ import annotations

import secrets
from pathlib import Path


def local_secret_key(data_dir: Path) -> str:
    key_file = data_dir / "secret_key"
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()
