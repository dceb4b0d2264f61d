"""What a customer link or a notice is about, as one string: "<app_label>.<model>:<pk>".

A string rather than a foreign key, so that one table serves a stage, a touchpoint or an account
without knowing the apps that own them."""

from __future__ import annotations

from typing import Any


def target_of(obj: Any) -> str:
    return f"{obj._meta.label_lower}:{obj.pk}"


def target_pk(target: str) -> int:
    """The primary key in a "<app_label>.<model>:<pk>" target (links' and notices')."""
    return int(target.rpartition(":")[2])
