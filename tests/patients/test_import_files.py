"""Uploaded patient lists are private: kept outside MEDIA_ROOT under a made-up name, reachable at no URL on
any host, deleted once the import has finished, and swept after PRIVATE_FILES_KEEP_DAYS in any case."""

import importlib
import os
import secrets
from datetime import timedelta
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from patients.imports import run_import
from patients.models import Patient, PatientImport
from practices.models import StaffMember
from practices.private_files import private_storage
from practices.tasks import run_daily_job
from tests.conftest import host_of
from tests.factories import STAFF_PASSWORD, StaffMemberFactory

LIST = b"phone,first_name,last_name,birthday\n(202) 555-0143,Ada,Lovelace,1990-12-10\n"


@pytest.fixture
def manager(alpha, alpha_client) -> StaffMember:
    member = StaffMemberFactory(role=StaffMember.Role.MANAGER)
    alpha_client.post("/staff/login/", {"login": member.user.email, "password": STAFF_PASSWORD})
    return member


def upload(client, filename: str):
    return client.post("/staff/patients/import/", {"file": SimpleUploadedFile(filename, LIST, "text/csv")})


def every_host() -> list[Client]:
    return [Client(HTTP_HOST=host) for host in (host_of("alpha"), host_of("beta"), settings.BASE_DOMAIN)]


def test_an_uploaded_list_is_kept_outside_media_under_a_made_up_name(manager, alpha, alpha_client, private_root):
    filename = f"patients-{secrets.token_hex(4)}.csv"

    upload(alpha_client, filename)  # the import is queued; it runs after the commit (not here)

    stored = PatientImport.objects.get().file
    assert stored.name.startswith(f"{alpha.schema_name}/imports/patients/")
    assert "patients-" not in stored.name
    path = Path(stored.path)
    assert path.is_relative_to(private_root / alpha.schema_name)
    assert not path.is_relative_to(Path(settings.MEDIA_ROOT).resolve())
    assert path.read_bytes() == LIST
    assert not (Path(settings.MEDIA_ROOT) / alpha.schema_name / "imports" / "patients" / filename).exists()


def test_an_uploaded_list_is_reachable_at_no_url_on_any_host(
    manager, alpha, alpha_client, private_root, urls_built_with_debug
):
    filename = f"patients-{secrets.token_hex(4)}.csv"
    upload(alpha_client, filename)
    stored = PatientImport.objects.get().file.name

    urls = [
        f"/media/{alpha.schema_name}/imports/patients/{filename}",  # where it used to be served
        f"/media/{stored}",
        f"/media/{alpha.schema_name}/../../private/{stored}",
        f"/media/%2e%2e/private/{stored}",
    ]
    for client in every_host():
        for url in urls:
            response = client.get(url)
            assert response.status_code == 404, (client.defaults["HTTP_HOST"], url)
            assert b"Lovelace" not in response.content


def test_the_list_is_deleted_when_the_import_is_done(alpha, private_root, django_capture_on_commit_callbacks):
    patient_import = PatientImport.objects.create(file=ContentFile(LIST, name="patients.csv"), filename="patients.csv")
    path = Path(patient_import.file.path)

    with django_capture_on_commit_callbacks(execute=True):
        done = run_import(patient_import.pk)

    assert done.status == PatientImport.Status.DONE
    assert Patient.objects.filter(user__phone="+12025550143").exists()
    assert not path.exists()
    done.refresh_from_db()
    assert done.file.name == ""


def test_the_list_is_deleted_when_the_import_fails(alpha, private_root, django_capture_on_commit_callbacks):
    patient_import = PatientImport.objects.create(
        file=ContentFile(b"PK\x03\x04\x00\x00", name="patients.csv"), filename="patients.csv"
    )
    path = Path(patient_import.file.path)

    with django_capture_on_commit_callbacks(execute=True):
        failed = run_import(patient_import.pk)

    assert failed.status == PatientImport.Status.FAILED
    assert not path.exists()


def test_an_import_whose_list_is_gone_fails_with_a_reason(alpha, private_root):
    patient_import = PatientImport.objects.create(file="", filename="patients.csv")

    failed = run_import(patient_import.pk)

    assert failed.status == PatientImport.Status.FAILED
    assert failed.errors == [{"row": None, "errors": ["The uploaded file is no longer kept; upload it again."]}]


def test_the_daily_job_deletes_private_files_older_than_the_kept_days(alpha, beta, private_root, settings):
    settings.PRIVATE_FILES_KEEP_DAYS = 7
    now = timezone.now()
    old = PatientImport.objects.create(file=ContentFile(LIST, name="a.csv"), filename="a.csv").file.path
    recent = PatientImport.objects.create(file=ContentFile(LIST, name="b.csv"), filename="b.csv").file.path
    eight_days_ago = (now - timedelta(days=8)).timestamp()
    os.utime(old, (eight_days_ago, eight_days_ago))
    with tenant_context(beta):
        betas = PatientImport.objects.create(file=ContentFile(LIST, name="c.csv"), filename="c.csv").file.path
    os.utime(betas, (eight_days_ago, eight_days_ago))

    assert "practices.jobs.delete_old_private_files" in settings.PRACTICE_DAILY_JOBS
    deleted = run_daily_job("practices.jobs.delete_old_private_files", now.isoformat())

    assert deleted == 1
    assert not Path(old).exists()
    assert Path(recent).exists()
    assert Path(betas).exists()  # beta's own run deletes it, not alpha's


def test_a_practice_cannot_read_another_practices_private_file(alpha, beta, private_root):
    with tenant_context(beta):
        betas = PatientImport.objects.create(file=ContentFile(LIST, name="c.csv"), filename="c.csv").file.name

    for name in (betas, f"{alpha.schema_name}/../{betas}", f"{alpha.schema_name}/imports/../../{betas}"):
        with pytest.raises(SuspiciousFileOperation):
            private_storage().open(name)
    with pytest.raises(ValueError, match="no URL"):
        private_storage().url(betas)


def test_the_migration_moves_a_queued_import_out_of_media_and_drops_finished_ones(alpha, media_root, private_root):
    migration = importlib.import_module("patients.migrations.0002_private_import_files")
    folder = media_root / alpha.schema_name / "imports" / "patients"
    folder.mkdir(parents=True)
    (folder / "queued.csv").write_bytes(LIST)
    (folder / "done.csv").write_bytes(LIST)
    (folder / "forgotten.csv").write_bytes(LIST)
    queued = PatientImport.objects.create(file="imports/patients/queued.csv", filename="queued.csv")
    done = PatientImport.objects.create(
        file="imports/patients/done.csv", filename="done.csv", status=PatientImport.Status.DONE
    )

    migration.move_import_files(apps, type("SchemaEditor", (), {"connection": connection}))

    queued.refresh_from_db()
    done.refresh_from_db()
    assert queued.file.name.startswith(f"{alpha.schema_name}/imports/patients/")
    assert Path(queued.file.path).read_bytes() == LIST
    assert done.file.name == ""
    assert not (media_root / alpha.schema_name / "imports").exists()
    assert run_import(queued.pk).status == PatientImport.Status.DONE
