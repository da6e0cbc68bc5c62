"""Template tags for the museum's pages: the language switcher and artwork pictures."""

from __future__ import annotations

from django import template
from django.conf import settings
from django.http import HttpRequest
from django.urls import translate_url
from django.utils.html import format_html
from django.utils.safestring import SafeString
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


@register.simple_tag
def artwork_picture(artwork: Artwork, sizes: str, eager: bool = False, large: bool = False) -> SafeString:
    """A <picture>: WebP sources with a JPEG fallback at both thumbnail widths.

    Built here rather than by an included template: a room renders 24 of
    them, and the template machinery took about half of the page's time."""
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

    webp_srcset, jpeg_srcset = srcset(webp), srcset(jpeg)
    fallback = (artwork.thumb_large_jpeg if large else artwork.thumb_small_jpeg) or artwork.image
    source = (
        format_html('\n  <source type="image/webp" srcset="{}" sizes="{}">', webp_srcset, sizes)
        if webp_srcset
        else ""
    )
    img_srcset = format_html(' srcset="{}" sizes="{}"', jpeg_srcset, sizes) if jpeg_srcset else ""
    loading = 'loading="eager" fetchpriority="high"' if eager else 'loading="lazy"'
    # The painting's own pixel width: the CSS shows it at most a few times that
    # wide (museum.css, .frame img), so a 64-px painting is not blown up to a blur.
    native = format_html(' style="--native: {}px"', artwork.width) if artwork.width else ""
    return format_html(
        '<picture>{}\n  <img src="{}"{} width="{}" height="{}"{} alt="{}" '
        + loading
        + ' decoding="async">\n</picture>',
        source,
        fallback.url,
        img_srcset,
        width,
        height,
        native,
        artwork.display_title,
    )
