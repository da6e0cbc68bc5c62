"""Let the Staff group edit room refresh schedules and see sample grids.

Permissions are created after migrate (post_migrate), so on a fresh database
they are created here with get_or_create, as scraper's 0002 does.
"""

from django.db import migrations

STAFF = [
    ("trainingsample", "view_trainingsample", "Can view sample grid"),
    ("generationschedule", "view_generationschedule", "Can view room refresh schedule"),
    ("generationschedule", "add_generationschedule", "Can add room refresh schedule"),
    ("generationschedule", "change_generationschedule", "Can change room refresh schedule"),
]


def grant(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    group, _ = Group.objects.get_or_create(name="Staff")
    for model, codename, name in STAFF:
        content_type, _ = ContentType.objects.get_or_create(app_label="training", model=model)
        permission, _ = Permission.objects.get_or_create(
            content_type=content_type, codename=codename, defaults={"name": name}
        )
        group.permissions.add(permission)


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    group = Group.objects.filter(name="Staff").first()
    if group is not None:
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="training", codename__in=[s[1] for s in STAFF])
        )


class Migration(migrations.Migration):
    dependencies = [
        ("training", "0002_runs_lease_samples_schedule"),
        ("scraper", "0002_curator_and_staff_groups"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(grant, revoke)]
