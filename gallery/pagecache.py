"""Rendered public pages kept in the configured cache (Redis in production,
local memory on the embedded defaults), and the generation that retires them.

Every cached page is stored with the *generation* it was rendered under, a
token kept in the cache, and served only while that token is current. Any save or delete of something a visitor can see (artworks, exhibits
and their pictures, rooms, checkpoints) stores a new token, so the next request
of every page renders afresh: no page lists its dependencies, and a page added
later is invalidated as well. The token is replaced twice: at once (so the
writer's own next request inside its transaction sees its change) and again
when the transaction commits (so nothing rendered from the old rows by another
request in between survives).

The cache is an accelerator, never a dependency: when it cannot be reached the
pages are rendered uncached and the failure is logged (``/healthz`` reports it).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.signals import setting_changed
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.utils.translation import get_language
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

GENERATION_KEY = "gallery:pages:generation"
PAGE_KEY_PREFIX = "gallery:page"
# What reaching an unreachable cache raises: the Redis client's errors and the
# socket's. Local memory never raises.
CACHE_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError)
# After a failure, skip the cache for this long instead of paying a connect
# timeout on every request while it is down.
RETRY_AFTER_SECONDS = 5.0

_down_until = 0.0
_bump_missed = False  # a change happened while the cache was down: bump once it is back


@receiver(setting_changed)
def _forget_outage(setting: str, **kwargs: object) -> None:
    """Tests swap CACHES: a new cache starts with no known outage."""
    global _down_until
    if setting == "CACHES":
        _down_until = 0.0


def _cache_call(operation: str, *args: Any) -> tuple[bool, Any]:
    """Run ``cache.<operation>(*args)``; (False, None) when the cache is down."""
    global _down_until, _bump_missed
    if time.monotonic() < _down_until:
        return False, None
    try:
        if _bump_missed:
            cache.set(GENERATION_KEY, _new_token(), None)
            _bump_missed = False
        return True, getattr(cache, operation)(*args)
    except CACHE_ERRORS as exc:
        _down_until = time.monotonic() + RETRY_AFTER_SECONDS
        logger.warning(
            "Cache unreachable (%s: %s); serving pages uncached for %ss.",
            type(exc).__name__,
            exc,
            RETRY_AFTER_SECONDS,
        )
        return False, None


def cache_get(key: str) -> Any:
    """The cached value, or None when it is missing or the cache is down."""
    return _cache_call("get", key)[1]


def cache_set(key: str, value: Any, timeout: float | None) -> bool:
    return _cache_call("set", key, value, timeout)[0]


def _new_token() -> str:
    return uuid.uuid4().hex[:16]


def generation() -> str | None:
    """The current generation, or None when the cache is down (then nothing is cached).

    A missing token (a fresh or flushed cache) is replaced by a new random one,
    so pages cached under any earlier token can never match again."""
    reachable, token = _cache_call("get", GENERATION_KEY)
    if not reachable:
        return None
    if token is None:
        fresh = _new_token()
        reachable, added = _cache_call("add", GENERATION_KEY, fresh, None)
        if not reachable:
            return None
        token = fresh if added else cache_get(GENERATION_KEY)
    return token


def bump_generation() -> None:
    """Retire every cached page."""
    global _bump_missed
    if not cache_set(GENERATION_KEY, _new_token(), None):
        # Retried by the next cache call of this process that succeeds; pages
        # other processes cached meanwhile expire within PAGE_CACHE_SECONDS.
        _bump_missed = True


def visible_change(**kwargs: object) -> None:
    """Signal receiver (and the bulk paths' hook): something visitors see changed."""
    bump_generation()
    transaction.on_commit(bump_generation, robust=True)


def page_is_shared(request: HttpRequest) -> bool:
    """Whether ``request`` gets the page every visitor gets.

    Staff may see unpublished previews, so they are served uncached. The session
    is only opened when the visitor sent a session cookie: an anonymous page
    never reads it, so it does not vary on Cookie. Only a page number may be in
    the query string, so junk parameters cannot fill the cache.
    """
    if request.method != "GET":
        return False
    for name, value in request.GET.items():
        if name != "page" or not value.isdigit() or len(value) > 6:
            return False
    return not _is_staff(request)


def _is_staff(request: HttpRequest) -> bool:
    """Whether a staff member asks; the session is only read if a cookie was sent."""
    return settings.SESSION_COOKIE_NAME in request.COOKIES and request.user.is_staff


def cached_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Serve ``view``'s page from the cache while nothing visible has changed,
    and tell browsers and proxies how they may keep it.

    The key holds the language and the full path (language prefix and page
    number); the entry holds the generation and the footer's offline-demo flag
    (which changes with crawls rather than with the gallery's rows) it was
    rendered under, and is only served while both are current. A hit is one
    cache round trip: the generation, the flag and the page are read together.

    A shared page says ``Cache-Control: no-cache``: a browser or proxy may keep
    it but asks again every time, and ``ConditionalGetMiddleware`` (settings)
    answers an unchanged page with an empty 304 by its ETag, so a visitor still
    sees every change on the next request. A staff page (previews of unpublished
    things) is never stored anywhere (``private, no-store``), and so gets no ETag."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if _is_staff(request):
            response = view(request, *args, **kwargs)
            add_never_cache_headers(response)
            return response
        if page_is_shared(request):
            response = _shared_page(view, request, *args, **kwargs)
        else:  # another method, or a query string the cache does not keep
            response = view(request, *args, **kwargs)
        patch_cache_control(response, no_cache=True)
        return response

    return wrapper


def _shared_page(
    view: Callable[..., HttpResponse], request: HttpRequest, *args: Any, **kwargs: Any
) -> HttpResponse:
    """The page every visitor gets: from the cache, or rendered (and cached)."""
    from .context_processors import DEMO_CACHE_KEY, is_offline_demo

    seconds = settings.PAGE_CACHE_SECONDS
    if seconds <= 0:
        return view(request, *args, **kwargs)
    key = f"{PAGE_KEY_PREFIX}:{get_language()}:{request.get_full_path()}"
    # Read before the view's queries: see the module docstring.
    reachable, found = _cache_call("get_many", [GENERATION_KEY, DEMO_CACHE_KEY, key])
    token = found.get(GENERATION_KEY) if reachable else None
    if reachable and token is None:
        token = generation()
    if token is None:
        return view(request, *args, **kwargs)
    demo = found.get(DEMO_CACHE_KEY)
    if demo is None:
        demo = is_offline_demo()
    hit = found.get(key)
    if hit is not None and hit[0] == token and hit[1] == demo:
        response = HttpResponse(hit[2], content_type=hit[3])
        response["X-Page-Cache"] = "hit"
        return response
    response = view(request, *args, **kwargs)
    if response.status_code == 200 and not response.streaming and not response.cookies:
        cache_set(key, (token, demo, response.content, response["Content-Type"]), seconds)
    response["X-Page-Cache"] = "miss"
    return response
