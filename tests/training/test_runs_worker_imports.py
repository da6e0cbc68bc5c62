"""The worker's parent process must never load torch (CUDA does not survive fork)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import os
import sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "museum.settings")
import django
django.setup()
from museum.celery import app
app.loader.import_default_modules()  # what a worker imports before forking its children
print(sorted(name for name in app.tasks if name.startswith(("training.", "gallery."))))
print("torch loaded:", "torch" in sys.modules)
"""


def test_worker_parent_imports_every_task_without_torch():
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    assert "'training.tasks.train_run'" in result.stdout
    assert "'training.periodic.requeue_stale_runs'" in result.stdout
    assert "'gallery.tasks.generate_artworks'" in result.stdout
    assert "'gallery.tasks.build_mixing_exhibit'" in result.stdout
    assert "'gallery.periodic.refresh_rooms'" in result.stdout
    assert "torch loaded: False" in result.stdout
