"""Seed the museum's four rooms. Further rooms are added as rows, not code."""

from django.db import migrations

ROOMS = [
    ("portrait", "Portraits", "肖像画", "portrait", "Faces and figures painted by our portrait model.",
     "肖像画モデルが描いた顔と人物。"),
    ("flower-still-life", "Flower still lifes", "静物画・花", "flowers,still life flowers",
     "Vases and blooms painted by our still-life model.", "静物画モデルが描いた花瓶と花。"),
    ("landscape", "Landscapes", "風景画", "landscape",
     "Skies, hills and water painted by our landscape model.", "風景画モデルが描いた空と丘と水辺。"),
    ("cityscape", "Cityscapes", "都市景観画", "cityscape,city view",
     "Streets and skylines painted by our cityscape model.", "都市景観画モデルが描いた街並みと空。"),
]


def seed(apps, schema_editor):
    Genre = apps.get_model("gallery", "Genre")
    for position, (slug, name, name_ja, terms, description, description_ja) in enumerate(ROOMS):
        Genre.objects.update_or_create(
            slug=slug,
            defaults={
                "name": name,
                "name_ja": name_ja,
                "search_terms": terms,
                "description": description,
                "description_ja": description_ja,
                "position": position,
            },
        )


def unseed(apps, schema_editor):
    apps.get_model("gallery", "Genre").objects.filter(slug__in=[room[0] for room in ROOMS]).delete()


class Migration(migrations.Migration):
    dependencies = [("gallery", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
