"""Shared test fixtures: real services, real worker processes.

Tests that need PostgreSQL or Redis use the ``redis_url`` / ``postgres_url``
fixtures. Locally they skip when the service is not configured; in CI
(``AAG_REQUIRE_SERVICES=1``) a missing service fails the test instead, so a
green CI run cannot hide a skipped service test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"


def require_service(env_name: str) -> str:
    value = os.environ.get(env_name, "")
    if value:
        return value
    message = f"{env_name} is not set: this test needs the real service."
    if os.environ.get("AAG_REQUIRE_SERVICES"):
        pytest.fail(message + " CI sets AAG_REQUIRE_SERVICES=1, so a skip would hide it.")
    pytest.skip(message)


@pytest.fixture
def browser() -> Iterator:
    """Debian's headless Chromium, driven by Playwright's sync API."""
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get install -y chromium` (or `make test`).")
    # Playwright's sync API runs an event loop in this thread; Django would refuse DB access.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            try:
                chromium.close()
            finally:
                # While that loop runs, asgiref keeps this thread's Django connections apart from the
                # ones it has without a loop, so pytest-django's close_all() (run after the loop stops)
                # never sees a connection a fixture or the test opened here, and PostgreSQL then refuses
                # to drop the test database: "is being accessed by other users". Close them in this context.
                from django.db import connections

                connections.close_all()


@pytest.fixture
def redis_url() -> str:
    return require_service("REDIS_URL")


@pytest.fixture
def postgres_url() -> str:
    url = require_service("DATABASE_URL")
    if not url.startswith(("postgres://", "postgresql://")):
        pytest.fail(f"DATABASE_URL={url!r} is not a PostgreSQL URL.")
    return url


@pytest.fixture(scope="session", autouse=True)
def _isolated_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Give this test session its own broker so a developer's running worker
    (or another test run) never takes its tasks."""
    try:
        from museum.celery import app
    except ImportError:  # a machine with only torch: the engine's tests need no broker
        yield
        return

    options = dict(app.conf.broker_transport_options or {})
    saved_env = {k: os.environ.get(k) for k in ("CELERY_BROKER_DIR", "CELERY_REDIS_KEYPREFIX")}
    if app.conf.broker_url.startswith("filesystem"):
        broker_dir = tmp_path_factory.mktemp("broker")
        for folder in ("queue", "control"):
            (broker_dir / folder).mkdir()
        options.update(
            data_folder_in=str(broker_dir / "queue"),
            data_folder_out=str(broker_dir / "queue"),
            control_folder=str(broker_dir / "control"),
        )
        os.environ["CELERY_BROKER_DIR"] = str(broker_dir)
    else:
        prefix = f"aag-test-{uuid.uuid4().hex[:8]}:"
        options["global_keyprefix"] = prefix
        os.environ["CELERY_REDIS_KEYPREFIX"] = prefix
    app.conf.broker_transport_options = options
    yield
    for key, value in saved_env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True)
def _fresh_page_cache(request: pytest.FixtureRequest) -> None:
    """Each test starts with a new database, so pages an earlier test cached
    (the cache outlives the test's rolled-back rows) must not be served."""
    if "django_db_setup" not in request.fixturenames and not request.node.get_closest_marker("django_db"):
        return
    from gallery.pagecache import bump_generation

    bump_generation()


def replay_data_migrations() -> None:
    """Run the project's data migrations again (rooms, groups): a transactional
    test's flush deletes what they created, and every test expects it."""
    from django.apps import apps
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.operations.special import RunPython

    loader = MigrationLoader(connection)
    seen: set[tuple[str, str]] = set()
    for leaf in sorted(loader.graph.leaf_nodes()):
        for key in loader.graph.forwards_plan(leaf):
            if key in seen or key[0] not in {"gallery", "scraper", "training"}:
                continue
            seen.add(key)
            for operation in loader.graph.nodes[key].operations:
                if isinstance(operation, RunPython):
                    operation.code(apps, None)


@pytest.fixture(autouse=True)
def _data_after_flush(request: pytest.FixtureRequest) -> None:
    """Transactional tests (live server, worker processes) start with the
    seeded rooms and groups, as a migrated database has them. (Django's
    serialized_rollback clashes with content types re-created after a flush
    on PostgreSQL, so the data migrations are replayed instead.)"""
    marker = request.node.get_closest_marker("django_db")
    transactional = bool(marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))
    if transactional or {"transactional_db", "live_server", "celery_worker_factory"} & set(
        request.fixturenames
    ):
        request.getfixturevalue("transactional_db")
        replay_data_migrations()


def test_database_url() -> str:
    """The URL of the database the tests use now, for a worker process."""
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}{port}/{db['NAME']}"


class WorkerProcess:
    """A real ``celery worker`` process, started against the test database."""

    def __init__(self, proc: subprocess.Popen, log_path: Path) -> None:
        self.proc = proc
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL the whole worker (parent and children), as an OOM killer would."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            # Cold shutdown of the parent (a warm one waits for the pool); the
            # group kill then takes anything left, such as a crawl's child.
            os.kill(self.proc.pid, signal.SIGQUIT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)


@pytest.fixture
def celery_worker_factory(transactional_db, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start real worker processes that share the test database, broker and
    media folders. Use with transactional tests (a worker cannot see data
    inside a test's open transaction)."""
    from django.conf import settings

    workers: list[WorkerProcess] = []

    def start(
        queues: str = "default,crawl,gpu",
        pool: str = "prefork",
        concurrency: int = 1,
        extra_env: dict[str, str | None] | None = None,
        ready_timeout: float = 90.0,
    ) -> WorkerProcess:
        env = os.environ.copy()
        env.update(
            DATABASE_URL=test_database_url(),
            AAG_MEDIA_ROOT=str(settings.MEDIA_ROOT),
            AAG_CHECKPOINT_ROOT=str(settings.CHECKPOINT_ROOT),
            PYTHONUNBUFFERED="1",
        )
        for key, value in (extra_env or {}).items():  # None removes a variable
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        log_path = tmp_path / f"worker-{len(workers)}.log"
        name = f"test{len(workers)}-{uuid.uuid4().hex[:6]}@%h"
        cmd = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "museum",
            "worker",
            "-Q",
            queues,
            "-P",
            pool,
            "-c",
            str(concurrency),
            "-n",
            name,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "INFO",
        ]
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        worker = WorkerProcess(proc, log_path)
        workers.append(worker)
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if "ready." in worker.log():
                return worker
            if proc.poll() is not None:
                raise RuntimeError(f"celery worker exited with {proc.returncode}:\n{worker.log()}")
            time.sleep(0.2)
        worker.stop()
        raise RuntimeError(f"celery worker not ready after {ready_timeout}s:\n{worker.log()}")

    yield start
    for worker in workers:
        worker.stop()


def wait_for(
    predicate: Callable[[], object],
    timeout: float = 60.0,
    interval: float = 0.25,
    what: str = "",
    explain: Callable[[], str] | None = None,
) -> object:
    """Poll until ``predicate()`` is truthy; fail with ``what`` after ``timeout`` seconds,
    followed by what ``explain()`` says of the state then (a row, a worker's log)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    detail = f"\n{explain()}" if explain is not None else ""
    pytest.fail(f"timed out after {timeout}s waiting for {what or predicate}{detail}")


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def broker_outage() -> Iterator[Callable[[], None]]:
    """Point this process's Celery app at a Redis port nothing listens on, as a
    broker outage looks to the web process; call the returned function to
    bring the real broker back (also done at the end of the test)."""
    from museum.celery import app

    saved = (app.conf.broker_url, app.conf.broker_transport_options)

    def reconnect() -> None:
        # Both caches hold connections to the old URL.
        app._pool = None
        app.amqp._producer_pool = None

    def restore() -> None:
        app.conf.broker_url, app.conf.broker_transport_options = saved
        reconnect()

    app.conf.broker_url = f"redis://127.0.0.1:{closed_port()}/0"
    app.conf.broker_transport_options = {}
    reconnect()
    try:
        yield restore
    finally:
        restore()
