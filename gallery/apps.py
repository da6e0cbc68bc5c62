from django.apps import AppConfig, apps
from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _

# Everything a public page shows comes from these models (the checkpoint gives
# the artwork and exhibit pages their provenance); a save or delete of any of
# them retires every cached page.
VISIBLE_MODELS = ("Genre", "Artwork", "MixingExhibit", "MixingSource", "MixingGrid", "MixingCell")


class GalleryConfig(AppConfig):
    name = "gallery"
    verbose_name = _("Gallery")

    def ready(self) -> None:
        from .pagecache import visible_change

        models = [self.get_model(name) for name in VISIBLE_MODELS]
        models.append(apps.get_model(settings.GALLERY_CHECKPOINT_MODEL))
        # An artwork's page shows its nearest training painting while that image is approved.
        models.append(apps.get_model("scraper", "ScrapedImage"))
        for model in models:
            post_save.connect(
                visible_change, sender=model, dispatch_uid=f"pagecache-save-{model._meta.label}"
            )
            post_delete.connect(
                visible_change, sender=model, dispatch_uid=f"pagecache-del-{model._meta.label}"
            )
