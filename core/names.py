"""How the product writes a vendor person's name, in every app: full name, else username."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

# The user columns a name is made of, for `.only()` or `values()` beside `select_related()`.
PERSON_FIELDS = ("username", "first_name", "last_name")


def person_name(first_name: str, last_name: str, username: str) -> str:
    """A name from a user's columns read as values: User.get_full_name() ("first last",
    stripped), else the username."""
    return f"{first_name} {last_name}".strip() or username


def name_of(user: Any) -> str:
    """A user's name, as `person_name` writes it from their columns."""
    return person_name(user.first_name, user.last_name, user.get_username())


def display_name(user: Any) -> str:
    """A user's name as `name_of` writes it, or "nobody" where there is no user (an account
    without an owner in a table, a filter left empty)."""
    return name_of(user) if user else "nobody"


def person_fields(*relations: str) -> list[str]:
    """The columns `name_of` reads of each related user, for `.only()` beside `select_related()`.
    A user row has eleven columns, the password hash among them: reading three is cheaper to
    build and read."""
    return [f"{relation}__{field}" for relation in relations for field in PERSON_FIELDS]


def people_names() -> dict[Any, str]:
    """Every vendor person's name by user id, from one query: for an export that names a person
    on each of many rows (people are few, rows many), instead of joining the user table."""
    users = get_user_model().objects.values_list("pk", *PERSON_FIELDS)
    return {pk: person_name(first_name, last_name, username) for pk, username, first_name, last_name in users}
