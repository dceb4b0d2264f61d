"""Bulk rows for `manage.py seed_scale`: its crm part and the parts after it (handover,
delivery, touchpoints) write through here.

Not the write path: the services take milliseconds per row and the benchmark needs millions,
so the seeders build rows consistent with the database constraints and with what the services
would have written, and write them here in one go. `Rows` assigns the ids itself (from each
table's current maximum), writes with COPY on PostgreSQL (psycopg 3) or bulk_create elsewhere,
then moves the id sequences past the new rows. `update` changes columns of existing rows the
same way (a temporary table and one UPDATE ... FROM on PostgreSQL).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import connection, models, transaction
from django.db.models import Max
from django.template.defaultfilters import pluralize
from tqdm import tqdm

from core.names import person_name
from crm.models import Activity

_REQUIRED = object()  # a column with no default that the row must name


def _model_columns(model: type[models.Model]) -> list[tuple[str, Any]]:
    """(column, default) for each concrete field, the primary key first. A default that is a
    callable (timezone.now, dict) is called once here: seeders pass their own timestamps."""
    columns = []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        if field.has_default() or field.null or field.empty_strings_allowed:
            default = field.get_default()
        else:
            default = _REQUIRED
        columns.append((field.attname, default))
    return columns


class Rows:
    """New rows for a set of models, written together by `write()` (COPY when `use_copy`, which
    needs PostgreSQL; bulk_create otherwise). Use inside a transaction: on PostgreSQL the tables
    are locked (SHARE ROW EXCLUSIVE) when this is made, since the ids are assigned here and
    nobody else may insert meanwhile."""

    def __init__(self, models_: Iterable[type[models.Model]], *, use_copy: bool) -> None:
        self.models = list(dict.fromkeys(models_))
        self.use_copy = use_copy
        self.columns = {m: _model_columns(m) for m in self.models}
        self.json_at = {
            m: {i + 1 for i, (c, _) in enumerate(cols) if isinstance(m._meta.get_field(c), models.JSONField)}
            for m, cols in self.columns.items()
        }
        self.required = {m: {c for c, d in cols if d is _REQUIRED} for m, cols in self.columns.items()}
        self.rows: dict[type[models.Model], list[tuple[Any, ...]]] = {m: [] for m in self.models}
        self.postgres = connection.vendor == "postgresql"
        if self.postgres:
            with connection.cursor() as cursor:
                tables = ", ".join(m._meta.db_table for m in self.models)
                cursor.execute(f"LOCK TABLE {tables} IN SHARE ROW EXCLUSIVE MODE")
        self.next_id = {m: (m._default_manager.aggregate(m=Max("pk"))["m"] or 0) + 1 for m in self.models}

    def add(self, model: type[models.Model], **values: Any) -> int:
        """Adds a row (columns by attribute name, e.g. `account_id`; the others take their
        field's default) and returns the id it will have."""
        missing = self.required[model].difference(values)
        if missing:
            raise TypeError(f"{model.__name__} row lacks {sorted(missing)}")
        pk = self.next_id[model]
        self.next_id[model] += 1
        row = [pk, *[values.pop(c, d) for c, d in self.columns[model]]]
        if values:
            raise TypeError(f"{model.__name__} has no columns named {sorted(values)}")
        if self.use_copy:
            for i in self.json_at[model]:  # COPY takes JSON as text
                row[i] = json.dumps(row[i])
        self.rows[model].append(tuple(row))
        return pk

    def write(self) -> dict[type[models.Model], int]:
        """Writes every row, in the order the models were given (parents first), and returns
        how many per model."""
        written = {}
        for model in self.models:
            rows = self.rows[model]
            written[model] = len(rows)
            if rows:
                self._write(model, rows)
        if self.postgres:  # explicit ids do not move PostgreSQL's sequences (SQLite's rowids follow)
            with connection.cursor() as cursor:
                for model in self.models:
                    if self.rows[model]:
                        table = model._meta.db_table
                        cursor.execute(  # table names come from the models, not from input
                            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"  # noqa: S608
                        )
        self.rows = {m: [] for m in self.models}
        return written

    def _write(self, model: type[models.Model], rows: list[tuple[Any, ...]]) -> None:
        names = ["id", *[c for c, _ in self.columns[model]]]
        if self.use_copy:
            with connection.cursor() as cursor:
                sql = f"COPY {model._meta.db_table} ({', '.join(names)}) FROM STDIN"
                with cursor.cursor.copy(sql) as copy:
                    for row in rows:
                        copy.write_row(row)
            return
        objects = [model(**dict(zip(names, row, strict=True))) for row in rows]
        model._default_manager.bulk_create(objects, batch_size=2000)

    # --- Timeline events (crm.events.event_record's row) ------------------------------------

    def event(
        self, *, account: int, event_type: str, subject: str, at: datetime, deal: int | None = None,
        actor: int | None = None, actor_label: str = "", body: str = "", ip: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> int:
        return self.add(
            Activity, account_id=account, deal_id=deal, kind=Activity.Kind.EVENT, event_type=event_type,
            subject=subject[:200], body=body, occurred_at=at, actor_id=actor, actor_label=actor_label,
            ip_address=ip, data=data or {}, created_at=at,
        )


def update(model: type[models.Model], columns: list[str], rows: list[tuple[Any, ...]], *, use_copy: bool) -> int:
    """Sets `columns` on existing rows: each row is (id, *values). Returns how many rows."""
    if not rows:
        return 0
    if not use_copy:
        for pk, *values in rows:
            model._default_manager.filter(pk=pk).update(**dict(zip(columns, values, strict=True)))
        return len(rows)
    table = model._meta.db_table
    names = ", ".join(["id", *columns])
    with connection.cursor() as cursor:
        # Same column types as the table, no constraints; dropped at commit.
        cursor.execute(
            f"CREATE TEMP TABLE bulk_update_rows ON COMMIT DROP AS SELECT {names} FROM {table} WITH NO DATA"  # noqa: S608
        )
        with cursor.cursor.copy(f"COPY bulk_update_rows ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        assignments = ", ".join(f"{c} = u.{c}" for c in columns)
        cursor.execute(f"UPDATE {table} SET {assignments} FROM bulk_update_rows u WHERE {table}.id = u.id")  # noqa: S608
        cursor.execute("DROP TABLE bulk_update_rows")
    return len(rows)


def analyze(models_: Iterable[type[models.Model]]) -> None:
    """Fresh planner statistics after a bulk load (PostgreSQL; nothing elsewhere)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in dict.fromkeys(models_):
            cursor.execute(f"ANALYZE {model._meta.db_table}")


def bench_users(prefix: str, count: int, *, role: str, last_name: str, is_active: bool = True) -> list[int]:
    """`count` bench people `<prefix>01`.. with `role` (made when missing; they never log in)."""
    User = get_user_model()
    group = Group.objects.get(name=role)
    unusable = make_password(None)
    ids = []
    for n in range(1, count + 1):
        user, created = User.objects.get_or_create(
            username=f"{prefix}{n:02d}",
            defaults={"first_name": "Bench", "last_name": f"{last_name} {n:02d}", "password": unusable,
                      "email": f"{prefix}{n:02d}@bench.example", "is_active": is_active},
        )
        if created:
            user.groups.add(group)
        ids.append(user.pk)
    return ids


def days(rng: random.Random, low: float, high: float, mode: float) -> timedelta:
    """A duration of `low` to `high` days, most often about `mode` (triangular)."""
    return timedelta(days=rng.triangular(low, high, mode))


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@contextmanager
def part(title: str, *, total: int, unit: str, stdout: Any, progress: bool) -> Iterator[Any]:
    """Prints what a seeder part does, shows a progress bar over its `total` items and prints
    how long it took."""
    stdout.write(f"{title}: {total} {unit}{pluralize(total)} to seed.")
    started = time.monotonic()
    with tqdm(total=total, unit=unit, disable=not progress, desc=title) as bar:
        yield bar
    stdout.write(f"{title}: done in {time.monotonic() - started:.1f}s.")


def in_batches(
    title: str, items: list[Any], run: Callable[[list[Any]], Any], *,
    batch: int, unit: str, stdout: Any, progress: bool,
) -> None:
    """`run(chunk)` over `items`, `batch` at a time, one transaction per chunk, as a seeder part
    with its progress bar."""
    with part(title, total=len(items), unit=unit, stdout=stdout, progress=progress) as bar:
        for chunk in chunks(items, batch):
            with transaction.atomic():
                run(chunk)
            bar.update(len(chunk))


# --- Bench people -------------------------------------------------------------------------------

# Usernames of the bench people, by prefix (bench/ and the tests find them by these).
BENCH_REPS = "bench_owner_"
BENCH_SALES_MANAGERS = "bench_salesmgr_"
BENCH_DEPARTED = "bench_departed_"
BENCH_PRESALES = "bench_presales_"
BENCH_DELIVERY_MANAGERS = "bench_deliverymgr_"
BENCH_DELIVERY = "bench_delivery_"


def user_names(ids: Iterable[int]) -> dict[int, str]:
    """Display names (full name, else username) by id, as crm.events writes them."""
    User = get_user_model()
    return {
        pk: person_name(first, last, username)
        for pk, first, last, username in User.objects.filter(pk__in=set(ids)).values_list(
            "pk", "first_name", "last_name", "username"
        )
    }
