"""Queries compiled to SQL once per process, then run with new arguments.

Building a queryset and compiling it to SQL is Python work that does not depend on the values
it filters by: for the account page's queries (select_related, only, a few conditions) it costs
about 0.6 ms each, more than PostgreSQL takes to plan and run them. A page that runs ten of them
spends a third of its time there. `PreparedQuery` builds and compiles its queryset once, with
`Arg` placeholders where the values go, and each call binds the values and runs the cached SQL
through the ORM's own iterables: the same model instances (deferred fields, select_related
objects, annotations) or values rows as the plain queryset gives.

Rules for a prepared query (tests/test_prepared_queries.py holds every one in the product to what
compiling afresh returns, on data where each finds rows):
- The queryset must be the same for every call apart from its `Arg` values: nothing that depends
  on the current user, time zone or time may be built into it (pass those as `Arg`s).
- An `Arg` stands where a single value goes (`=`, `<`, `>=`...), not in `__in` or a slice.
- An integer outside its field's range raises ValueError (an exact lookup on the plain queryset
  would match nothing; the database would refuse the value).
- The result is a list: there is no queryset to chain further filters onto.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, ClassVar, Generic, TypeVar

from django.db import connections
from django.db.models import BigIntegerField, Expression, Field, QuerySet
from django.db.models.sql.compiler import SQLCompiler

T = TypeVar("T")

# Set while `PreparedQuery.fresh` compiles: the values the `Arg`s compile to.
_FRESH_VALUES: ContextVar[dict[str, Any] | None] = ContextVar("prepared_fresh_values", default=None)


class _Slot:
    """Where an `Arg`'s value goes in the compiled query's parameters."""

    __slots__ = ("field", "name")

    def __init__(self, name: str, field: Field) -> None:
        self.name, self.field = name, field


class Arg(Expression):
    """A named value supplied when a `PreparedQuery` runs: `filter(account_id=Arg("account", IntegerField()))`.
    The field prepares the value for the database as a filter on such a field would."""

    def __init__(self, name: str, output_field: Field) -> None:
        super().__init__(output_field=output_field)
        self.name = name

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        slot = _Slot(self.name, self.output_field)
        values = _FRESH_VALUES.get()
        if values is not None:
            return "%s", [_bind(slot, values[self.name], connection)]
        return "%s", [slot]

    def get_group_by_cols(self) -> list[Any]:
        return []

    def __repr__(self) -> str:
        return f"Arg({self.name!r})"


def id_arg(name: str) -> Arg:
    """A row id (the project's primary keys are BigAutoField)."""
    return Arg(name, BigIntegerField())


def _bind(slot: _Slot, value: Any, connection: Any) -> Any:
    limits = connection.ops.integer_field_ranges.get(slot.field.get_internal_type())
    if limits is not None and value is not None and not limits[0] <= int(value) <= limits[1]:
        raise ValueError(f"{slot.name}={value!r} is out of range for {slot.field.get_internal_type()}.")
    return slot.field.get_db_prep_value(value, connection, prepared=False)


class PreparedQuery(Generic[T]):
    """`build` returns the queryset, with `Arg`s for the values; calling the prepared query with
    those values as keyword arguments returns the rows as a list."""

    # Every prepared query, for the test that holds each to what compiling afresh gives.
    instances: ClassVar[list[PreparedQuery[Any]]] = []

    def __init__(self, build: Callable[[], QuerySet[Any, T]]) -> None:
        self.build = build
        PreparedQuery.instances.append(self)
        self._compiled: dict[str, tuple[QuerySet[Any, T], SQLCompiler, str, tuple[Any, ...], frozenset[str]]] = {}

    def _compile(self, using: str) -> tuple[QuerySet[Any, T], SQLCompiler, str, tuple[Any, ...], frozenset[str]]:
        queryset = self.build()
        compiler = queryset.query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        names = frozenset(p.name for p in params if isinstance(p, _Slot))
        compiled = self._compiled[using] = (queryset, compiler, sql, tuple(params), names)
        return compiled

    def arg_names(self, using: str = "default") -> frozenset[str]:
        return (self._compiled.get(using) or self._compile(using))[4]

    def fresh(self, *, using: str = "default", **values: Any) -> list[T]:
        """The same rows without the cache: the queryset built and compiled with the values, as
        plain ORM code would (for tests)."""
        token = _FRESH_VALUES.set(values)
        try:
            return list(self.build().using(using))
        finally:
            _FRESH_VALUES.reset(token)

    def __call__(self, *, using: str = "default", **values: Any) -> list[T]:
        queryset, compiler, sql, params, names = self._compiled.get(using) or self._compile(using)
        if values.keys() != names:
            missing, unexpected = sorted(names - values.keys()), sorted(values.keys() - names)
            raise TypeError(f"Prepared query arguments: missing {missing}, unexpected {unexpected}.")
        connection = connections[using]
        bound_params = [_bind(p, values[p.name], connection) if isinstance(p, _Slot) else p for p in params]
        # A copy of the compiled compiler answers the ORM's iterable with the cached SQL; it
        # keeps what compiling set up (the selected columns, select_related's layout, the
        # converters' fields) and takes this thread's connection.
        bound = copy.copy(compiler)
        bound.connection = connection
        bound.as_sql = lambda *args, **kwargs: (sql, bound_params)  # type: ignore[method-assign,assignment]
        clone = queryset._chain()  # type: ignore[attr-defined]
        clone.query.get_compiler = lambda *args, **kwargs: bound
        return list(clone)
