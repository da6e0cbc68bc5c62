"""Decoding a large image takes bounded memory: measured as the peak resident
size of a fresh process running the real check (Pillow's pixel buffers are
allocated outside Python, so tracemalloc would not see them)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[2]

# Imports and a small warm-up first, so the high-water mark before the big
# image holds everything but that image's decode.
CHILD = """
import io, json, resource, sys
from PIL import Image
from scraper.imagecheck import check_image
small = io.BytesIO(); Image.linear_gradient("L").convert("RGB").resize((300, 200)).save(small, "JPEG")
check_image(small.getvalue())
data = open(sys.argv[1], "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
checked = check_image(data, "image/jpeg")
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"growth_mb": (after - before) / 1024, "size": [checked.width, checked.height]}))
"""

WIDTH, HEIGHT = 7360, 4912  # a 36-megapixel camera's full frame: 108 MB of RGB pixels


@pytest.fixture(scope="module")
def photograph(tmp_path_factory) -> Path:
    image = Image.linear_gradient("L").resize((WIDTH, HEIGHT)).convert("RGB")
    draw = ImageDraw.Draw(image)
    for n in range(40):
        x, y = (n * 181) % WIDTH, (n * 97) % HEIGHT
        draw.ellipse([x, y, x + 600, y + 400], fill=(n * 6 % 255, 90, 200 - n * 4))
    path = tmp_path_factory.mktemp("big") / "photograph.jpg"
    image.save(path, "JPEG", quality=85)
    return path


def test_a_36_megapixel_jpeg_is_decoded_in_a_fraction_of_its_full_size(photograph):
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(photograph)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    # Decoded whole, the pixels alone are 108 MB, and with the copies made on
    # the way the process grew by 370 MB; at a reduced scale it is a fraction.
    assert figures["growth_mb"] < 108, figures
    width, height = figures["size"]
    assert max(width, height) <= 2048 and abs(width / height - WIDTH / HEIGHT) < 0.01
