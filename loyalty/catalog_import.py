"""Import a catalog from a CSV file, row by row: good rows are saved, bad rows are reported with the reason.

Re-importing the same file updates the items it created: a row is matched by its external_id, or by
name and category when it has none. Catalogs are small, so this runs within the request.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q

from accounts.models import User
from practices import audit
from practices.csv_files import UnreadableFile, read_csv
from practices.formatting import format_number

from .errors import LoyaltyError
from .forms import CatalogItemForm
from .models import CatalogItem
from .staff_services import save_catalog_item

MAX_ROWS = 5000
COLUMNS = ("name", "category", "kind", "price", "external_id", "earning", "points_per_dollar", "fixed_points", "active")
REQUIRED_COLUMNS = ("name", "category", "price")
TRUE_WORDS = {"1", "yes", "y", "true", "t", "active", "x"}
FALSE_WORDS = {"0", "no", "n", "false", "f", "inactive"}


@dataclass
class RowError:
    row: int  # as a spreadsheet numbers it: the header is row 1
    name: str
    message: str


@dataclass
class CatalogImportReport:
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def row_count(self) -> int:
        return self.created + self.updated + len(self.errors)


def read_rows(content: bytes) -> list[tuple[int, dict[str, str]]]:
    """The file's rows, numbered as a spreadsheet shows them; UnreadableFile if the file can't be used."""
    _header, rows = read_csv(content, columns=COLUMNS, required=REQUIRED_COLUMNS)
    numbered = []
    for number, row in rows:
        if len(numbered) == MAX_ROWS:
            raise UnreadableFile(
                f"This file has more than {format_number(MAX_ROWS)} rows; split it into smaller files."
            )
        numbered.append((number, row))
    if not numbered:
        raise UnreadableFile("This file has a header but no rows.")
    return numbered


def _existing_item(row: dict[str, str]) -> CatalogItem | None:
    if row.get("external_id"):
        return CatalogItem.objects.filter(external_id=row["external_id"]).first()
    return (
        CatalogItem.objects.filter(Q(external_id__isnull=True) | Q(external_id=""))
        .filter(name__iexact=row.get("name", ""), category__iexact=row.get("category", ""))
        .order_by("pk")
        .first()
    )


def _form_data(row: dict[str, str], item: CatalogItem | None) -> dict:
    active = row.get("active", "").lower()
    if active and active not in TRUE_WORDS | FALSE_WORDS:
        raise ValueError(f"active: “{row['active']}” is not yes or no.")
    data = {
        "name": row.get("name", ""),
        "category": row.get("category", ""),
        "kind": row.get("kind", "").lower() or (item.kind if item else CatalogItem.Kind.SERVICE),
        "price": row.get("price", ""),
        "external_id": row.get("external_id", ""),
        "earning": row.get("earning", "").lower() or (item.earning if item else CatalogItem.Earning.PER_DOLLAR),
        "points_per_dollar": row.get("points_per_dollar", ""),
        "fixed_points": row.get("fixed_points", ""),
    }
    # An empty "active" cell keeps an existing item as it is and makes a new one active.
    if (active in TRUE_WORDS) if active else (item is None or item.is_active):
        data["is_active"] = "on"
    return data


def _describe(form: CatalogItemForm) -> str:
    parts = []
    for name, errors in form.errors.items():
        label = "row" if name == "__all__" else {"is_active": "active"}.get(name, name)
        parts.append(f"{label}: {' '.join(errors)}")
    return "; ".join(parts)


def import_catalog(*, content: bytes, actor: User) -> CatalogImportReport:
    """Create or update a catalog item for each good row of the CSV file and report the others; each item
    created or changed is in the audit trail with who imported it."""
    audit.require_actor(actor)
    report = CatalogImportReport()
    seen: dict[tuple, int] = {}
    for number, row in read_rows(content):
        name = row.get("name", "")
        key = (
            ("id", row["external_id"])
            if row.get("external_id")
            else ("name", name.lower(), row.get("category", "").lower())
        )
        if key in seen:
            report.errors.append(RowError(number, name, f"The same item is already on row {seen[key]}."))
            continue
        seen[key] = number
        item = _existing_item(row)
        try:
            data = _form_data(row, item)
        except ValueError as error:
            report.errors.append(RowError(number, name, str(error)))
            continue
        form = CatalogItemForm(data, instance=item)
        if not form.is_valid():
            report.errors.append(RowError(number, name, _describe(form)))
            continue
        try:
            save_catalog_item(item=item, actor=actor, note="Imported from a CSV file", **form.service_values())
        except LoyaltyError as error:
            report.errors.append(RowError(number, name, error.message))
            continue
        if item is None:
            report.created += 1
        else:
            report.updated += 1
    return report
