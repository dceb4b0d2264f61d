"""How the product writes a name in a sentence, so every page and email says it the same way."""

from __future__ import annotations


def possessive(name: str) -> str:
    """"Northwind Analytics' delivery", "Alice's check-up": a name ending in s takes the
    apostrophe alone, as the style guides the product copy follows write it."""
    name = str(name)
    if not name:
        return name
    return f"{name}'" if name[-1] in "sS" else f"{name}'s"
