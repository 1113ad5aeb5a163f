"""What every benchmark does when it ends: drop its practice and leave the database server as it found it."""

import os

from django.conf import settings
from django.db import connections

from practices.models import BackgroundTask, Practice


def drop_practice(practice: Practice) -> None:
    """Drop a benchmark's practice: its schema, its rows in the public schema, and its background tasks (which live
    in the public schema and do not go with the practice's)."""
    BackgroundTask.objects.filter(schema_name=practice.schema_name).delete()
    Practice.objects.get(pk=practice.pk).delete(force_drop=True)


def stop_embedded_database_if_started_here() -> None:
    """Leave the machine as found: the embedded PostgreSQL keeps running only if it already was."""
    from config import embedded_db

    if not os.environ.get("DATABASE_URL") and embedded_db.started_here:
        connections.close_all()
        embedded_db.stop(settings.DATA_DIR)
