"""Logos move into their practice's own media folder, and their stored name says which folder it is.

Before, the storage put a logo under the folder of the schema it was uploaded from: `public/` when uploaded
from the platform admin, while every page asked for it under `p_<slug>/` (a 404). Each logo is moved to
`MEDIA_ROOT/<schema>/<old name>` and its name becomes `<schema>/<old name>`; a logo whose file is in
neither place keeps the new name (it was missing before too).
"""

import shutil
from pathlib import Path

from django.conf import settings
from django.db import migrations, models

import practices.media
import practices.models


def move_logos(apps, schema_editor):
    Practice = apps.get_model("practices", "Practice")
    media = Path(settings.MEDIA_ROOT)
    public = settings.PUBLIC_SCHEMA_NAME
    for practice in Practice.objects.exclude(logo="").exclude(schema_name=public):
        schema, name = practice.schema_name, practice.logo.name
        if name.startswith(f"{schema}/"):
            continue
        target = media / schema / name
        if not target.is_file() and (media / public / name).is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(media / public / name, target)
        Practice.objects.filter(pk=practice.pk).update(logo=f"{schema}/{name}")


def name_logos_as_before(apps, schema_editor):
    Practice = apps.get_model("practices", "Practice")
    for practice in Practice.objects.exclude(logo=""):
        prefix = f"{practice.schema_name}/"
        if practice.logo.name.startswith(prefix):
            Practice.objects.filter(pk=practice.pk).update(logo=practice.logo.name[len(prefix) :])


class Migration(migrations.Migration):
    dependencies = [
        ("practices", "0006_api_key_signing_secret"),
    ]

    operations = [
        migrations.AlterField(
            model_name="practice",
            name="logo",
            field=models.ImageField(
                blank=True,
                max_length=255,
                storage=practices.media.practice_media_storage,
                upload_to=practices.models.logo_path,
            ),
        ),
        migrations.RunPython(move_logos, name_logos_as_before, hints={"model_name": "practice"}),
    ]
