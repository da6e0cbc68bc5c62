"""The public museum's data: rooms (genres), artworks and mixing exhibits."""

from __future__ import annotations

from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class Genre(models.Model):
    """A room of the museum. Rooms are rows: a fifth room is a data change."""

    slug = models.SlugField(_("slug"), unique=True)
    name = models.CharField(_("name (English)"), max_length=100)
    name_ja = models.CharField(_("name (Japanese)"), max_length=100, blank=True)
    description = models.TextField(_("description (English)"), blank=True)
    description_ja = models.TextField(_("description (Japanese)"), blank=True)
    # What crawlers ask the museums for when collecting this genre's paintings.
    search_terms = models.CharField(
        _("search terms"), max_length=200, blank=True, help_text=_("Comma-separated queries for the crawlers.")
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "slug"]
        verbose_name = _("genre")
        verbose_name_plural = _("genres")

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        if (get_language() or "").startswith("ja") and self.name_ja:
            return self.name_ja
        return self.name

    @property
    def display_description(self) -> str:
        if (get_language() or "").startswith("ja") and self.description_ja:
            return self.description_ja
        return self.description
