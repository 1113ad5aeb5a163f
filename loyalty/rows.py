"""Plain statements for the purchase path, built from the models' own fields.

A POS sale takes about fifteen statements, and the ORM spends several times longer building each one
than PostgreSQL spends running it (bench/README.md). These helpers build the same SQL from the models'
fields (column lists, defaults, auto_now values and database conversions all come from the model), once
per shape, and run it. Like bulk_create(), the writes send no model signals (other apps learn of
purchases and points through loyalty.signals), and related objects must be saved before their rows are.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from django.db import DatabaseError, connection
from django.db.models import AutoField, BigAutoField, Model, SmallAutoField


def fetch_rows(model: type[Model], sql: str, params, *, extra: tuple[str, ...] = ()) -> list:
    """Instances of `model` from `sql`: a query on its table aliased `t`, whose select list starts with
    `{columns}` (all of the model's columns) and may go on with `extra` values, set as attributes by
    these names. What Model.objects.raw() returns, without its setup on every query."""
    statement, names, converters = _select(model, sql)
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        rows = cursor.fetchall()
    found = []
    for row in rows:
        values = list(row[: len(names)])
        for index, column, column_converters in converters:
            for converter in column_converters:
                values[index] = converter(values[index], column, connection)
        obj = model.from_db(connection.alias, names, values)
        for name, value in zip(extra, row[len(names) :], strict=True):
            setattr(obj, name, value)
        found.append(obj)
    return found


def insert_rows(objects: list[Model]) -> None:
    """INSERT unsaved instances of one model in one statement; sets their primary keys (as save() does)."""
    model = type(objects[0])
    fields = _insert_fields(model)
    values = []
    for obj in objects:
        values.extend(field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields)
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(model, len(objects)), values)
        keys = cursor.fetchall()
    for obj, (pk,) in zip(objects, keys, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias


def update_row(obj: Model, fields: Iterable[str]) -> None:
    """UPDATE these fields of a saved instance, auto_now fields included (as save(update_fields=...) does)."""
    names = tuple(dict.fromkeys(fields))
    meta = obj._meta
    values = []
    for name in names:
        field = meta.get_field(name)
        values.append(field.get_db_prep_save(field.pre_save(obj, False), connection))
    with connection.cursor() as cursor:
        cursor.execute(_update_sql(type(obj), names), [*values, obj.pk])
        if cursor.rowcount != 1:
            raise DatabaseError(f"Updating {meta.label} {obj.pk} affected {cursor.rowcount} rows.")


@cache
def _select(model: type[Model], sql: str) -> tuple[str, list[str], list]:
    fields = model._meta.concrete_fields
    columns = ", ".join(f"t.{connection.ops.quote_name(field.column)}" for field in fields)
    converters = []
    for index, field in enumerate(fields):
        column = field.get_col("t")
        if column_converters := field.get_db_converters(connection) + connection.ops.get_db_converters(column):
            converters.append((index, column, column_converters))
    return sql.replace("{columns}", columns), [field.attname for field in fields], converters


@cache
def _insert_fields(model: type[Model]) -> list:
    return [
        field
        for field in model._meta.concrete_fields
        if not isinstance(field, AutoField | BigAutoField | SmallAutoField)
    ]


@cache
def _insert_sql(model: type[Model], count: int) -> str:
    quote = connection.ops.quote_name
    fields = _insert_fields(model)
    columns = ", ".join(quote(field.column) for field in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    return (
        f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES {', '.join([row] * count)}"  # noqa: S608
        f" RETURNING {quote(model._meta.pk.column)}"
    )


@cache
def _update_sql(model: type[Model], names: tuple[str, ...]) -> str:
    quote = connection.ops.quote_name
    meta = model._meta
    assignments = ", ".join(f"{quote(meta.get_field(name).column)} = %s" for name in names)
    return f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608
