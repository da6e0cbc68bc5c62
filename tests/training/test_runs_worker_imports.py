"""The worker's parent process must never load torch (CUDA does not survive fork)."""

from __future__ import annotations

import ast
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


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function, as an absolute name."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    [*package.split(".")[: len(package.split(".")) - node.level + 1], base]
                ).strip(".")
            names |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return names


def test_training_ends_at_a_checkpoint():
    """The runner packs and trains without the services that queue it (the old
    circle services -> tasks -> runner -> services), and nothing in training/
    reaches into the gallery's publishing or painting: that starts from a
    checkpoint, in gallery/."""
    runner = imported_modules(ROOT / "training" / "runner.py")
    assert "training.services" not in runner and "training.datasets" in runner
    for path in sorted((ROOT / "training").glob("*.py")):
        gallery = {name for name in imported_modules(path) if name.startswith("gallery.")}
        assert gallery <= {"gallery.models", "gallery.models.Genre"}, (path.name, gallery)
