"""Let the Staff group see the gallery's artworks and mixing exhibits in the
admin (0002 could only grant genres: the other gallery models came later).

Permissions are created after migrate (post_migrate), so on a fresh database
they are created here with get_or_create.
"""

from django.db import migrations

GALLERY_MODELS = [
    ("artwork", "Can view artwork"),
    ("mixingexhibit", "Can view mixing exhibit"),
    ("mixingsource", "Can view mixing source"),
    ("mixinggrid", "Can view mixing grid"),
    ("mixingcell", "Can view mixing cell"),
]


def grant(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    group, _ = Group.objects.get_or_create(name="Staff")
    for model, name in GALLERY_MODELS:
        content_type, _ = ContentType.objects.get_or_create(app_label="gallery", model=model)
        permission, _ = Permission.objects.get_or_create(
            content_type=content_type, codename=f"view_{model}", defaults={"name": name}
        )
        group.permissions.add(permission)


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    group = apps.get_model("auth", "Group").objects.filter(name="Staff").first()
    if group is not None:
        group.permissions.remove(
            *Permission.objects.filter(
                content_type__app_label="gallery", codename__in=[f"view_{model}" for model, _ in GALLERY_MODELS]
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("scraper", "0003_scrapedimage_thumbnail"),
        ("gallery", "0003_artworks_and_exhibits"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(grant, revoke)]
