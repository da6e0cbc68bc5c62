"""Template tags for the museum's pages: the language switcher and artwork pictures."""

from __future__ import annotations

from django import template
from django.conf import settings
from django.http import HttpRequest
from django.urls import translate_url
from django.utils.translation import get_language, get_language_info

from gallery.models import Artwork

register = template.Library()


@register.simple_tag(takes_context=True)
def language_choices(context: template.Context) -> list[dict[str, object]]:
    """One entry per language with the current page's address in it.

    The address is translated here, while the page's language is active:
    ``set_language`` runs outside the language prefix and cannot resolve a
    prefixed path such as ``/ja/rooms/...`` by itself.
    """
    request: HttpRequest | None = context.get("request")
    path = request.get_full_path() if request else "/"
    current = get_language()
    choices = []
    for code, _name in settings.LANGUAGES:
        info = get_language_info(code)
        choices.append(
            {
                "code": code,
                "name": info["name_local"],
                "next": translate_url(path, code),
                "current": code == current,
            }
        )
    return choices


@register.inclusion_tag("gallery/includes/picture.html")
def artwork_picture(
    artwork: Artwork, sizes: str, eager: bool = False, large: bool = False
) -> dict[str, object]:
    """A <picture>: WebP sources with a JPEG fallback at both thumbnail widths."""
    small_w = artwork.thumb_small_size[0]
    large_w = artwork.thumb_large_size[0]
    width, height = artwork.thumb_large_size if large else artwork.thumb_small_size
    webp = [(artwork.thumb_small_webp, small_w), (artwork.thumb_large_webp, large_w)]
    jpeg = [(artwork.thumb_small_jpeg, small_w), (artwork.thumb_large_jpeg, large_w)]

    def srcset(files: list) -> str:
        seen, parts = set(), []
        for file, w in files:
            if file and w not in seen:  # a small source image gives one width only
                seen.add(w)
                parts.append(f"{file.url} {w}w")
        return ", ".join(parts)

    fallback = (artwork.thumb_large_jpeg if large else artwork.thumb_small_jpeg) or artwork.image
    return {
        "artwork": artwork,
        "webp_srcset": srcset(webp),
        "jpeg_srcset": srcset(jpeg),
        "src": fallback.url,
        "sizes": sizes,
        "width": width,
        "height": height,
        "eager": eager,
    }
