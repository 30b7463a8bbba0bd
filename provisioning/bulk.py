"""Writing many rows in few statements (reconcile's changed servers after a node failure)."""

import json

from django.db import connection

CHUNK = 5000


def update_rows(model, objects, fields):
    """UPDATE the given fields of many rows: PostgreSQL's UPDATE ... FROM (VALUES ...), a statement
    per 5,000 rows; elsewhere (the demo's SQLite) Django's bulk_update."""
    objects = list(objects)
    if not objects:
        return 0
    if connection.vendor != "postgresql":
        # The demo's SQLite: one UPDATE per row is fast enough for its few servers.
        for obj in objects:
            model.objects.filter(pk=obj.pk).update(**{f: getattr(obj, model._meta.get_field(f).attname) for f in fields})
        return len(objects)
    columns = [model._meta.get_field(name) for name in fields]
    table = connection.ops.quote_name(model._meta.db_table)
    pk = model._meta.pk
    assignments = ", ".join(
        f"{connection.ops.quote_name(c.column)} = v.c{i}::{c.db_type(connection)}" for i, c in enumerate(columns)
    )
    names = ", ".join(["id", *(f"c{i}" for i in range(len(columns)))])
    for start in range(0, len(objects), CHUNK):
        chunk = objects[start:start + CHUNK]
        rows, params = [], []
        for obj in chunk:
            values = [getattr(obj, c.attname) for c in columns]
            params.append(obj.pk)
            params.extend(json.dumps(v) if c.get_internal_type() == "JSONField" else _plain(v)
                          for c, v in zip(columns, values, strict=True))
            rows.append("(" + ", ".join(["%s"] * (len(columns) + 1)) + ")")
        sql = (f"UPDATE {table} SET {assignments} FROM (VALUES {', '.join(rows)}) AS v({names}) "
               f"WHERE {table}.{connection.ops.quote_name(pk.column)} = v.id::{pk.db_type(connection)}")
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
    return len(objects)


def _plain(value):
    # Lazy translations and the like go to the database as text.
    return str(value) if value is not None and not isinstance(value, (int, float, str, bool)) else value
