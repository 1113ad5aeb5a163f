"""Every static file a page or the code names exists. In production (the manifest storage) a name missing from
collectstatic's manifest makes the page that uses it answer 500; in development nothing notices."""

import re
from pathlib import Path

from django.contrib.staticfiles import finders

ROOT = Path(__file__).resolve().parents[2]

SOURCES = [
    path
    for pattern in ("templates/**/*.html", "*/templates/**/*.html", "*/*.py")
    for path in ROOT.glob(pattern)
    if ".venv" not in path.parts
]
# {% static 'name' %} in templates, static("name") in Python.
NAMED = re.compile(r"""\{%\s*static\s+['"]([^'"]+)['"]|\bstatic\(\s*['"]([^'"]+)['"]\s*\)""")


def named_static_files() -> list[tuple[str, str]]:
    return sorted(
        {
            (match.group(1) or match.group(2), str(path.relative_to(ROOT)))
            for path in SOURCES
            for match in NAMED.finditer(path.read_text())
        }
    )


def test_the_pages_name_static_files():
    names = [name for name, _ in named_static_files()]
    assert "css/app.css" in names
    assert "vendor/htmx-2.0.11/htmx.min.js" in names


def test_every_named_static_file_exists():
    missing = [f"{source}: {name}" for name, source in named_static_files() if not finders.find(name)]
    assert missing == []
