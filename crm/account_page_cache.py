"""The account page's contacts, deals, team and ownership ledger, cached per account under an
explicit key and version (the timeline is not cached: every event of every app adds to it).

Key: `crm:account-page:<SCHEMA>:<account id>:<account version>:<people version>`. The account
version is bumped by every write of those rows of that account (the receivers below: a save or a
delete of a contact, deal, team membership or ownership change; a deal's line items are written
only by the deal services, which save the deal in the same transaction);
the people version by every change to a user other than their last login, because the page
shows people's names and who is still on a team. A bumped version makes the old entry
unreachable: nothing is ever read under a version older than the last write.

Each bump happens twice: at once (so later reads in the same transaction, and tests that never
commit, miss the old entry) and again when the transaction commits (so a page read by another
request between the write and its commit, which saw the rows before the write, cannot be kept
under the new version). Writes that skip model signals (`QuerySet.update`, `bulk_create`) are
part of a service that saves one of those rows (or the user) in the same transaction, so its
commit bump covers them: a new primary contact's save for the others' `is_primary`, the deal's
save for its line items, the new owner's membership for the old one's end, the user's save when
a deactivation ends their memberships.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from crm.models import AccountTeamMember, Contact, Deal, OwnershipChange

# Bump when the cached rows' shape changes (another column read, another list), so a deploy
# never reads entries written by the previous code.
SCHEMA = 2
# Entries expire anyway, so a cache that outlives the database (a re-seeded demo) or missed a
# bump while it was down heals itself.
TIMEOUT_SECONDS = 600

T = TypeVar("T")
logger = logging.getLogger(__name__)


def _account_version_key(account_id: int) -> str:
    return f"crm:account-page-version:{account_id}"


PEOPLE_VERSION_KEY = "crm:account-page-people-version"


def _new_version() -> int:
    """A version no earlier entry can carry: a version that is missing (never set, or evicted)
    starts again from the clock, not from a number an old entry may still be stored under."""
    return time.time_ns()


def _bump(key: str) -> None:
    try:
        try:
            cache.incr(key)
        except ValueError:  # no version (never set, or evicted)
            cache.set(key, _new_version(), None)
    except Exception:  # the cache is down: the write goes on; what it left behind expires (TIMEOUT_SECONDS)
        logger.warning("crm: could not bump the account page cache version %s", key, exc_info=True)


def bump_account(account_id: int) -> None:
    key = _account_version_key(account_id)
    _bump(key)
    transaction.on_commit(lambda: _bump(key))


def bump_people() -> None:
    _bump(PEOPLE_VERSION_KEY)
    transaction.on_commit(lambda: _bump(PEOPLE_VERSION_KEY))


def key_for(account_id: int) -> str:
    keys = [_account_version_key(account_id), PEOPLE_VERSION_KEY]
    versions = cache.get_many(keys)
    for key in keys:
        if key not in versions:
            cache.add(key, _new_version(), None)  # add: a concurrent bump or start wins
            versions[key] = cache.get(key)
    return f"crm:account-page:{SCHEMA}:{account_id}:{versions[keys[0]]}:{versions[keys[1]]}"


def cached(account_id: int, read: Callable[[], T]) -> T:
    """`read()`'s result for the account, from the cache while no write bumped its versions;
    read afresh when the cache is down."""
    try:
        key = key_for(account_id)
        found = cache.get(key)
    except Exception:
        logger.warning("crm: the cache is unavailable; reading the account page afresh", exc_info=True)
        return read()
    if found is None:
        found = read()
        try:
            cache.set(key, found, TIMEOUT_SECONDS)
        except Exception:
            logger.warning("crm: could not keep the account page's rows", exc_info=True)
    return found  # type: ignore[no-any-return]


@receiver([post_save, post_delete], sender=Contact)
@receiver([post_save, post_delete], sender=Deal)
@receiver([post_save, post_delete], sender=AccountTeamMember)
@receiver([post_save, post_delete], sender=OwnershipChange)
def _account_row_written(sender: Any, instance: Any, **kwargs: Any) -> None:
    bump_account(instance.account_id)


@receiver([post_save, post_delete], sender=get_user_model())
def _user_written(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return  # a login: nothing the page shows
    bump_people()
