"""Claiming rows that several workers may reach at once: due schedules, pending occurrences, deliveries.

Two sweeps, or two workers handed the same occurrence or delivery (a redelivered message, a
requeue), must not both act on one row. Where the database has row locks that skip what another
transaction holds (PostgreSQL), the claim locks the rows it reads and passes over the locked ones.
Elsewhere (SQLite, the embedded default) the read is left as it is and the caller settles the race
with a compare-and-set: an UPDATE whose WHERE still holds the value it read, which writes nothing
for the loser.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from django.db import connection
from django.db.models import Model, QuerySet

_Row = TypeVar("_Row", bound=Model)


def locks_skip_taken_rows() -> bool:
    """Whether `locked_for_claim` locks (and skips rows other transactions hold) on this database."""
    return bool(connection.features.has_select_for_update_skip_locked)


def locked_for_claim(queryset: QuerySet[_Row], *, of: Sequence[str] = ()) -> QuerySet[_Row]:
    """`queryset` locked FOR UPDATE SKIP LOCKED where the database can (inside the caller's transaction).

    `of` names the tables to lock when the query joins others (`("self",)`: only the claimed rows).
    Where the database cannot, `queryset` comes back unchanged, and the caller's compare-and-set
    must decide who owns each row (`locks_skip_taken_rows()` says which case holds).
    """
    if locks_skip_taken_rows():
        return queryset.select_for_update(skip_locked=True, of=tuple(of))
    return queryset
