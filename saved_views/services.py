"""The only write path of saved views: keyword-only, atomic, permission-checked.

A saved view is a personal preference, so it writes no timeline event. Sharing one changes what
the whole team sees on a list, so `saved_view_share` records who shared or unshared it in the
admin's history (a django.contrib.admin LogEntry, seen under "Recent actions" and on the view's
"History" page), the project's admin-visible log for changes that belong to no account.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import QueryDict
from django.utils.http import urlencode

from core.text import validate_single_line
from saved_views import permissions
from saved_views.models import LISTS, NAME_MAX_LENGTH, QUERY_MAX_LENGTH, SavedView

# A query parameter's name as the list pages use them: `q`, `sort`, `close_from`, ...
PARAMETER = re.compile(r"[a-z][a-z0-9_]{0,39}")
# Not part of a view: where in the list one was.
NOT_SAVED = {"page"}


def normalise_query(raw: str) -> str:
    """A list's query string as a view keeps it: without the page and empty values, the
    parameters in a fixed order (so the bar can tell the view being looked at), percent-encoded.
    Parameters that no list page uses (not a lower-case name) are dropped."""
    params = QueryDict(raw.lstrip("?"))
    pairs = [
        (key, value)
        for key in sorted(params)
        if key not in NOT_SAVED and PARAMETER.fullmatch(key)
        for value in params.getlist(key)
        if value.strip()
    ]
    query = urlencode(pairs)
    if len(query) > QUERY_MAX_LENGTH:
        raise ValidationError({"query": f"Too many filters to save (at most {QUERY_MAX_LENGTH} characters)."})
    return query


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the view a name."})
    if len(name) > NAME_MAX_LENGTH:
        raise ValidationError({"name": f"At most {NAME_MAX_LENGTH} characters."})
    try:
        validate_single_line(name)
    except ValidationError as exc:
        raise ValidationError({"name": exc.messages}) from None
    return name


def _require_unique(*, user: Any, list_name: str, name: str, exclude: int | None = None) -> None:
    taken = SavedView.objects.owned_by(user).on_list(list_name).filter(name__iexact=name)
    if exclude is not None:
        taken = taken.exclude(pk=exclude)
    if taken.exists():
        raise ValidationError({"name": f"You already have a view named \u201c{name}\u201d on this list."})


def _save_unique(view: SavedView) -> None:
    # Two saves under one name at once: the database's constraint decides, with the same message.
    try:
        with transaction.atomic():
            view.save()
    except IntegrityError:
        raise ValidationError(
            {"name": f"You already have a view named \u201c{view.name}\u201d on this list."}
        ) from None


def _log_sharing(*, view: SavedView, by: Any, added: bool = False) -> None:
    message = "Shared with the team." if view.shared else "No longer shared with the team."
    LogEntry.objects.log_actions(
        user_id=by.pk, queryset=[view], action_flag=ADDITION if added else CHANGE, change_message=message,
        single_object=True,
    )


@transaction.atomic
def saved_view_create(*, by: Any, list_name: str, name: str, query: str = "", shared: bool = False) -> SavedView:
    if list_name not in LISTS:
        raise ValidationError({"list_name": "Views can be saved on the accounts, contacts, deals and problems lists."})
    if shared:
        permissions.require_can_share(by)
    name = _clean_name(name)
    query = normalise_query(query)
    _require_unique(user=by, list_name=list_name, name=name)
    view = SavedView(user=by, list_name=list_name, name=name, query=query, shared=shared)
    _save_unique(view)
    if shared:
        _log_sharing(view=view, by=by, added=True)
    return view


def _locked(view: SavedView) -> SavedView:
    return SavedView.objects.select_for_update().get(pk=view.pk)


@transaction.atomic
def saved_view_rename(*, view: SavedView, by: Any, name: str) -> SavedView:
    view = _locked(view)
    permissions.require_owner(by, view)
    name = _clean_name(name)
    _require_unique(user=by, list_name=view.list_name, name=name, exclude=view.pk)
    view.name = name
    _save_unique(view)
    return view


@transaction.atomic
def saved_view_share(*, view: SavedView, by: Any, shared: bool) -> SavedView:
    view = _locked(view)
    permissions.require_owner(by, view)
    permissions.require_can_share(by)
    if view.shared != shared:
        view.shared = shared
        view.save(update_fields=["shared"])
        _log_sharing(view=view, by=by)
    return view


@transaction.atomic
def saved_view_delete(*, view: SavedView, by: Any) -> None:
    view = _locked(view)
    permissions.require_owner(by, view)
    view.delete()
