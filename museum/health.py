"""``/healthz`` and ``/readyz``: whether the services the museum needs answer.

``/healthz`` is for monitoring: one line per service (database, cache,
broker), "ok" or "down: <why>", and status 503 when any is down, so an
operator is alerted and sees at once what to fix.

``/readyz`` is for the load balancer and `docker compose`: whether this
process can serve the museum's pages. Only the database is needed for that:
without the cache pages render uncached (gallery.pagecache), and without the
broker visitors still walk the rooms (only new paintings and staff's tasks
wait). A Redis outage therefore leaves every web process in rotation, its
answer 200 with the first line naming what is degraded; a database outage
takes it out (503).
"""

from __future__ import annotations

import uuid

from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse
from kombu.exceptions import KombuError
from redis.exceptions import RedisError

CHECK_TIMEOUT_SECONDS = 2


def database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        return f"down: {type(exc).__name__}: {exc}".strip()
    return "ok"


def cache_status() -> str:
    """A real write and read, past the page cache's outage shortcut."""
    value = uuid.uuid4().hex
    key = f"healthz:{value}"  # one key per probe: concurrent probes never see each other's value
    try:
        cache.set(key, value, 5)
        if cache.get(key) != value:
            return "down: a value written to the cache did not come back"
    except (RedisError, OSError) as exc:
        return f"down: {type(exc).__name__}: {exc}"
    return "ok"


def broker() -> str:
    from museum.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(
                max_retries=1, interval_start=0, interval_step=0, timeout=CHECK_TIMEOUT_SECONDS
            )
    except (KombuError, RedisError, OSError) as exc:
        return f"down: {type(exc).__name__}: {exc}"
    return "ok"


def _checks() -> dict[str, str]:
    return {"database": database(), "cache": cache_status(), "broker": broker()}


def _answer(first: str, checks: dict[str, str], ok: bool) -> HttpResponse:
    lines = [first] + [f"{name}: {state}" for name, state in checks.items()]
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain", status=200 if ok else 503)


def healthz(request: HttpRequest) -> HttpResponse:
    checks = _checks()
    down = [name for name, state in checks.items() if state != "ok"]
    return _answer("down: " + ", ".join(down) if down else "ok", checks, not down)


def readyz(request: HttpRequest) -> HttpResponse:
    checks = _checks()
    ready = checks["database"] == "ok"
    degraded = [name for name, state in checks.items() if state != "ok"]
    if not ready:
        first = "not ready: the database is down"
    elif degraded:
        first = "ready, degraded: " + ", ".join(degraded)
    else:
        first = "ready"
    return _answer(first, checks, ready)
