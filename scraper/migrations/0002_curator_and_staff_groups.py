"""Create the Curators and Staff groups with their permissions.

Django creates permissions after migrate (post_migrate), so on a fresh
database they do not exist yet here: they are created with get_or_create.
"""

from django.db import migrations

# (app_label, model, codename, name)
CURATORS = [
    ("scraper", "scrapedimage", "review_images", "Can approve or reject scraped images"),
    ("scraper", "scrapedimage", "view_scrapedimage", "Can view scraped image"),
    ("scraper", "scrapedimage", "change_scrapedimage", "Can change scraped image"),
]
STAFF = [
    *CURATORS,
    ("scraper", "crawljob", "start_crawl", "Can start and cancel crawls"),
    ("scraper", "crawljob", "view_crawljob", "Can view crawl job"),
    ("training", "trainingrun", "start_training", "Can start, cancel and resume training runs"),
    ("training", "trainingrun", "view_trainingrun", "Can view training run"),
    ("training", "checkpoint", "publish_checkpoint", "Can publish checkpoints and generate artworks"),
    ("training", "checkpoint", "view_checkpoint", "Can view checkpoint"),
    ("training", "dataset", "view_dataset", "Can view dataset"),
    ("gallery", "genre", "view_genre", "Can view genre"),
]
GROUPS = {"Curators": CURATORS, "Staff": STAFF}


def create_groups(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    for group_name, entries in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        for app_label, model, codename, name in entries:
            content_type, _ = ContentType.objects.get_or_create(app_label=app_label, model=model)
            permission, _ = Permission.objects.get_or_create(
                content_type=content_type, codename=codename, defaults={"name": name}
            )
            group.permissions.add(permission)


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=list(GROUPS)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("scraper", "0001_initial"),
        ("training", "0001_initial"),
        ("gallery", "0002_seed_genres"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_groups, remove_groups)]
