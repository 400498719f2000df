"""Re-encrypting personal data under the newest key (``anyuan rotate-keys``), and once
from the old unbound ``v1:`` format (the migration that added the row keys).

Works on the raw columns with portable SQL (SQLite and PostgreSQL), in batches by primary
key, each batch in its own transaction. Every value is read (one that is not its row's is
reported); values already under the newest key are not rewritten, so a second run rewrites
nothing and an interrupted run is finished by running it again. Each row is written only if its values are still those read (compare
and set), so a change made meanwhile by the application is never overwritten.

Digests are not recomputed: the look-up key does not rotate (see
:func:`anyuan.core.personal._keys`).
"""

import dataclasses
from collections import defaultdict
from collections.abc import Callable

from django.db import connections, transaction

from anyuan.core import personal

BATCH = 1000


@dataclasses.dataclass
class Outcome:
    label: str
    rows: int = 0  # rows looked at
    rewritten: int = 0  # values re-encrypted
    unreadable: list[tuple] = dataclasses.field(default_factory=list)  # (pk, column)

    def as_dict(self) -> dict:
        return {"rows": self.rows, "rewritten": self.rewritten, "unreadable": len(self.unreadable)}


def models_with_personal_data(apps=None) -> list:
    from django.apps import apps as global_apps

    return [m for m in (apps or global_apps).get_models() if personal.encrypted_fields(m)]


def rewrite(
    model,
    *,
    using: str = "default",
    batch: int = BATCH,
    fresh_row_keys: bool = False,
    on_batch: Callable[[Outcome, int], None] | None = None,
) -> Outcome:
    """Re-encrypt every personal-data value of ``model`` under the newest key, bound to its
    row. ``fresh_row_keys``: give every row a new row key first (the migration does)."""
    connection = connections[using]
    qn = connection.ops.quote_name
    meta = model._meta
    table = meta.db_table
    pk = meta.pk.column
    rk = personal.row_key_field(model).column
    columns = [f.column for f in personal.encrypted_fields(model)]
    select = (
        f"SELECT {qn(pk)}, {qn(rk)}, {', '.join(qn(c) for c in columns)} "  # noqa: S608
        f"FROM {qn(table)} {{where}} ORDER BY {qn(pk)} LIMIT %s"
    )
    outcome = Outcome(meta.label_lower)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {qn(table)}")  # noqa: S608
        total = cursor.fetchone()[0]
    last = None
    while True:
        with transaction.atomic(using=using), connection.cursor() as cursor:
            if last is None:
                cursor.execute(select.format(where=""), [batch])
            else:
                cursor.execute(select.format(where=f"WHERE {qn(pk)} > %s"), [last, batch])
            rows = cursor.fetchall()
            if not rows:
                break
            updates: dict[tuple, list] = defaultdict(list)
            for pk_value, row_key, *values in rows:
                new_key = personal.new_row_key() if fresh_row_keys or not row_key else row_key
                changed = []
                for column, token in zip(columns, values, strict=True):
                    if not token:
                        continue
                    try:  # every value is read, so that one not of its row is reported
                        clear = personal.decrypt(
                            token,
                            personal.associated_data(table, column, row_key or ""),
                            legacy=True,
                        )
                    except personal.Unreadable:
                        outcome.unreadable.append((pk_value, column))
                        continue
                    if new_key == row_key and personal.is_current(token):
                        continue
                    new = personal.encrypt(clear, personal.associated_data(table, column, new_key))
                    changed.append((column, token, new))
                if new_key == row_key and not changed:
                    continue
                names = tuple(c for c, _old, _new in changed)
                updates[names].append(
                    [new_key, *(n for _c, _o, n in changed), pk_value, row_key]
                    + [o for _c, o, _n in changed]
                )
            for names, params in updates.items():
                sets = ", ".join([f"{qn(rk)} = %s", *(f"{qn(c)} = %s" for c in names)])
                checks = " AND ".join([f"{qn(pk)} = %s", f"{qn(rk)} = %s"])
                checks += "".join(f" AND {qn(c)} = %s" for c in names)
                cursor.executemany(f"UPDATE {qn(table)} SET {sets} WHERE {checks}", params)  # noqa: S608
                outcome.rewritten += len(names) * len(params)
            outcome.rows += len(rows)
            last = rows[-1][0]
        if on_batch:
            on_batch(outcome, total)
    return outcome


def rebind_for_migration(app_label: str, model_name: str):
    """A ``RunPython`` operation's function: fresh row keys for the rows that got the
    column's one default, and every old value re-encrypted bound to its row."""

    def run(apps, schema_editor):
        model = apps.get_model(app_label, model_name)
        rewrite(model, using=schema_editor.connection.alias, fresh_row_keys=True)

    return run
