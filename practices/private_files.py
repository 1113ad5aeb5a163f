"""Private files: uploads that hold patient data (patient import lists).

They live under PRIVATE_ROOT, outside MEDIA_ROOT, in one folder per practice schema, under names this
module makes up (never the uploaded name). No URL serves them: only the code that stores a file reads it
back, inside the same practice, and deletes it when done. Whatever is left is removed after
PRIVATE_FILES_KEEP_DAYS by a daily job (practices.jobs.delete_old_private_files).
"""

from __future__ import annotations

import os
import secrets
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import FileSystemStorage
from django.db import connection
from django.utils import timezone


class PrivateStorage(FileSystemStorage):
    """Files under PRIVATE_ROOT, readable only from inside the practice whose folder they are in."""

    def __init__(self):
        super().__init__(file_permissions_mode=0o600, directory_permissions_mode=0o700)

    @property
    def base_location(self):
        # Read on each use (not cached), so a changed setting is seen at once.
        return settings.PRIVATE_ROOT

    @property
    def location(self):
        return os.path.abspath(self.base_location)

    def path(self, name: str) -> str:
        # A practice never reads another practice's files, even through a name it was handed.
        folder = practice_folder()
        parts = name.replace("\\", "/").split("/")
        if len(parts) < 2 or parts[0] != folder or any(part in ("", ".", "..") for part in parts):
            raise SuspiciousFileOperation(f"A private file outside the practice's folder ({folder}/) was asked for.")
        return super().path(name)

    def url(self, name):
        raise ValueError("Private files have no URL; they are read by the code that stored them.")


_storage = PrivateStorage()


def private_storage() -> PrivateStorage:
    """The storage of private files (a callable, so migrations name it instead of copying it)."""
    return _storage


def practice_folder() -> str:
    return connection.schema_name


def private_name(folder: str, suffix: str) -> str:
    """A new file name in the current practice's private folder: `<schema>/<folder>/<random><suffix>`."""
    return f"{practice_folder()}/{folder}/{secrets.token_hex(16)}{suffix}"


def delete_old_files(*, now: datetime | None = None) -> int:
    """Delete the current practice's private files last written more than PRIVATE_FILES_KEEP_DAYS ago;
    returns how many were deleted. Empty folders are left (they hold nothing)."""
    now = now or timezone.now()
    cutoff = (now - timedelta(days=settings.PRIVATE_FILES_KEEP_DAYS)).timestamp()
    root = Path(_storage.location) / practice_folder()
    if not root.is_dir():
        return 0
    deleted = 0
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            deleted += 1
    return deleted
