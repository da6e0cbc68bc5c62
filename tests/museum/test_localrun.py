"""`make run`'s launcher starts the sample museum where the crawl source "sample" looks for it."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from museum.localrun import _processes, banner, local_env
from tests.museum.test_settings import CONFIG_VARS, ROOT


def test_the_sample_museum_runs_beside_web_workers_and_beat():
    processes = _processes("127.0.0.1", 8000, "http://127.0.0.1:8765")

    assert set(processes) == {"web", "worker", "gpu", "beat", "sample"}
    assert processes["sample"][1:] == ["-m", "scraper.samplemuseum", "--host", "127.0.0.1", "--port", "8765"]
    # The worker that runs crawls listens on the crawl queue.
    assert "crawl" in processes["worker"][processes["worker"].index("-Q") + 1].split(",")


def test_the_sample_museum_follows_scraper_sample_url():
    processes = _processes("127.0.0.1", 8000, "http://localhost:9123")

    assert processes["sample"][-4:] == ["--host", "localhost", "--port", "9123"]


@pytest.mark.parametrize("url", ["https://127.0.0.1:8765", "http://127.0.0.1", "127.0.0.1:8765"])
def test_a_sample_url_it_cannot_serve_is_refused_with_an_example(url):
    with pytest.raises(SystemExit, match=r"e\.g\. http://127\.0\.0\.1:8765"):
        _processes("127.0.0.1", 8000, url)


def test_the_banner_names_the_sample_museum_where_it_is_served():
    sample_url = "http://127.0.0.1:8801"
    served = _processes("127.0.0.1", 8800, sample_url)["sample"]

    text = banner("127.0.0.1", 8800, sample_url, "admin / pw")

    host, port = served[served.index("--host") + 1], served[served.index("--port") + 1]
    assert f"http://{host}:{port}" in text
    assert "http://127.0.0.1:8800/admin/" in text
    assert re.findall(r"127\.0\.0\.1:(\d+)", text) == ["8800", "8800", "8801"]


def test_every_process_runs_as_visitors_see_it_with_a_key_kept_in_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("AAG_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DJANGO_SECRET_KEY", raising=False)
    monkeypatch.delenv("DJANGO_ALLOWED_HOSTS", raising=False)

    env = local_env("127.0.0.1", "http://127.0.0.1:8801")

    assert env["DJANGO_DEBUG"] == "0"
    assert env["DJANGO_SECRET_KEY"] == (tmp_path / "secret_key").read_text().strip()
    assert len(env["DJANGO_SECRET_KEY"]) > 40
    assert local_env("127.0.0.1", "http://127.0.0.1:8801")["DJANGO_SECRET_KEY"] == env["DJANGO_SECRET_KEY"]
    assert set(env["DJANGO_ALLOWED_HOSTS"].split(",")) >= {"127.0.0.1", "localhost"}
    assert env["SCRAPER_SAMPLE_URL"] == "http://127.0.0.1:8801"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


@pytest.mark.slow
def test_the_launcher_serves_the_museum_with_debug_off_and_keeps_its_console_short(tmp_path):
    """The real launcher (web, both workers, beat, sample museum) on a migrated data folder."""
    env = {k: v for k, v in os.environ.items() if k not in CONFIG_VARS}
    env.update(AAG_DATA_DIR=str(tmp_path), PYTHONUNBUFFERED="1")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    port, sample_port = free_port(), free_port()
    env["SCRAPER_SAMPLE_URL"] = f"http://127.0.0.1:{sample_port}"
    launcher = subprocess.Popen(
        [sys.executable, "-m", "museum.localrun", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    console: list[str] = []
    try:
        for line in launcher.stdout:
            console.append(line)
            if "Ctrl-C stops" in line or len(console) > 100:
                break
        base = f"http://127.0.0.1:{port}"
        assert f"The museum is open at {base}/" in "".join(console)

        status, home = fetch(base + "/")
        assert status == 200 and "AI Art Gallery" in home
        status, missing = fetch(base + "/no-such-room/")
        assert status == 404
        assert "This page is not in the museum." in missing and "URLconf" not in missing
        assert fetch(base + re.search(r'href="(/static/css/[^"]+)"', home).group(1))[0] == 200
        # The sample museum answers at the address the banner names.
        assert fetch(f"http://127.0.0.1:{sample_port}/api/v1/artworks/search?q=portrait")[0] == 200
    finally:
        launcher.send_signal(signal.SIGINT)
        rest, _ = launcher.communicate(timeout=60)
    console.append(rest)
    printed = "".join(console).splitlines()
    assert len(printed) <= 15, printed
    logs = tmp_path / "logs"
    assert "GET /no-such-room/" in (logs / "web.log").read_text()
    assert {p.name for p in logs.iterdir()} >= {"web.log", "worker.log", "gpu.log", "beat.log", "sample.log"}
