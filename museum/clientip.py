"""The client address the login limit (django-axes) counts failures against.

Behind a reverse proxy every request arrives from the proxy's address, so a
per-address limit would lock out everyone at once; but trusting
X-Forwarded-For without a proxy lets an attacker pick a new address for every
guess. So the header is read only when the deployment says how many proxies
it has (``DJANGO_TRUSTED_PROXY_COUNT``), and then only the entry the nearest
trusted proxy appended: entries further left are whatever the client sent.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The address of the client as the outermost trusted proxy saw it, else REMOTE_ADDR."""
    proxies = settings.TRUSTED_PROXY_COUNT
    remote = request.META.get("REMOTE_ADDR") or None
    if proxies <= 0:
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    if len(hops) < proxies:
        # Not through the expected proxies (a health check, a direct request): the socket's address.
        return remote
    return hops[-proxies]
