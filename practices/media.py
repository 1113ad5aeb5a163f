"""Public uploads (logos, reward pictures): where they are stored and which of them may be served.

Every public upload lives under MEDIA_ROOT in the folder of the practice it belongs to (its schema name),
and is served by practices.views_media on that practice's own host only. Files holding patient data are
never here: they are private (practices.private_files).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage

# What the media view serves, by suffix, and with which Content-Type. No SVG (it can carry scripts).
IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
}
# The folders of a practice's media folder that hold public uploads (Practice.logo, Reward.image).
PUBLIC_FOLDERS = ("branding", "rewards")

# The logo is uploaded from the platform admin (public schema) as well as used on the practice's host, so
# its storage does not follow the current schema: its names start with the practice's folder themselves.
_practice_media = FileSystemStorage()


def practice_media_storage() -> FileSystemStorage:
    """MEDIA_ROOT without a per-request folder (a callable, so migrations name it instead of copying it)."""
    return _practice_media


def public_file(*, folder: str, path: str) -> tuple[Path, str] | None:
    """The file at `path` (relative to MEDIA_ROOT) and its Content-Type, when it is a public upload of the
    practice whose folder is `folder`; None for anything else (another practice's, a private file, a
    name that climbs out, a missing file, a type not in IMAGE_TYPES)."""
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != folder or parts[1] not in PUBLIC_FOLDERS:
        return None
    if any(part in ("", ".", "..") or "\\" in part or "\x00" in part for part in parts):
        return None
    content_type = IMAGE_TYPES.get(Path(parts[-1]).suffix.lower())
    if content_type is None:
        return None
    root = (Path(settings.MEDIA_ROOT) / folder).resolve()
    try:
        file = (root / path.split("/", 1)[1]).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    # Symbolic links are followed above: what they point to must still be this practice's media folder.
    private = Path(settings.PRIVATE_ROOT).resolve()
    if not file.is_relative_to(root) or file.is_relative_to(private) or not file.is_file():
        return None
    return file, content_type
