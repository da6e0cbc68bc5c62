"""Which language a request is answered in.

The public pages live under ``i18n_patterns`` with the default language
unprefixed (``/`` is English, ``/ja/`` Japanese). Django's LocaleMiddleware
then answers every unprefixed address in the default language, whatever the
browser asks for, and the admin (outside the patterns) with it. Here the
browser's Accept-Language counts, an explicit choice (the language cookie set
by the switcher) counts more, and a public page asked for in another language
is redirected to that language's address, so the address still names its
language and a cache can tell the two apart.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.locale import LocaleMiddleware
from django.urls import get_script_prefix, is_valid_path
from django.utils import translation
from django.utils.cache import patch_vary_headers


class BrowserLanguageMiddleware(LocaleMiddleware):
    """LocaleMiddleware that honours the language cookie and Accept-Language on unprefixed addresses."""

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        if translation.get_language_from_path(request.path_info):
            return super().process_request(request)
        # Cookie first (an explicit choice), then Accept-Language, then LANGUAGE_CODE.
        language = translation.get_language_from_request(request, check_path=False)
        urlconf = getattr(request, "urlconf", settings.ROOT_URLCONF)
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        # Resolved with the language active: the patterns' prefix is the active language's.
        if (
            language != settings.LANGUAGE_CODE
            and request.method in ("GET", "HEAD")
            and is_valid_path(f"/{language}{request.path_info}", urlconf)
        ):
            prefix = get_script_prefix()
            target = request.get_full_path().replace(prefix, f"{prefix}{language}/", 1)
            redirect = HttpResponseRedirect(target)
            patch_vary_headers(redirect, ("Accept-Language", "Cookie"))
            return redirect
        return None

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        response = super().process_response(request, response)
        if not translation.get_language_from_path(request.path_info):
            # The unprefixed answer depends on the language cookie too.
            patch_vary_headers(response, ("Cookie",))
        return response
