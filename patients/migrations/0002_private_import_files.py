"""Patient import files move out of MEDIA_ROOT into the private storage (PRIVATE_ROOT).

An unfinished import's file is moved to `<PRIVATE_ROOT>/<schema>/imports/patients/<random>.csv`, so it still
runs. A finished import's file is deleted (its report is kept), as is any list left in the practice's
`imports/` media folder that no import refers to: they held phone numbers and names under a path that was
served. Going back keeps the files private (the old code then reports them as unreadable).
"""

import os
import secrets
import shutil
from pathlib import Path

from django.conf import settings
from django.db import migrations, models

import patients.models
import practices.private_files

FINISHED = ("done", "failed")


def move_import_files(apps, schema_editor):
    schema = schema_editor.connection.schema_name
    media_folder = Path(settings.MEDIA_ROOT) / schema
    PatientImport = apps.get_model("patients", "PatientImport")
    for patient_import in PatientImport.objects.exclude(file="").exclude(file__startswith=f"{schema}/"):
        old = media_folder / patient_import.file.name
        if patient_import.status in FINISHED or not old.is_file():
            new_name = ""
        else:
            new_name = f"{schema}/imports/patients/{secrets.token_hex(16)}.csv"
            new = Path(settings.PRIVATE_ROOT) / new_name
            new.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            shutil.move(old, new)
            os.chmod(new, 0o600)
        PatientImport.objects.filter(pk=patient_import.pk).update(file=new_name)
    imports_folder = media_folder / "imports"
    if imports_folder.is_dir():
        shutil.rmtree(imports_folder)


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0001_patients"),
    ]

    operations = [
        migrations.AlterField(
            model_name="patientimport",
            name="file",
            field=models.FileField(
                blank=True,
                max_length=255,
                storage=practices.private_files.private_storage,
                upload_to=patients.models.import_file_name,
            ),
        ),
        migrations.RunPython(move_import_files, migrations.RunPython.noop),
    ]
