"""The keys an account is found under when someone creates it again: its normalised name and
its web domain. Pure functions (no models), so the data migration, the services and the bulk
seeders compute them the same way.

"Falcon Freight GmbH", "falcon-freight" and "FALCON FREIGHT, Inc." share the name key
`falconfreight`; https://www.falcon.example/about and falcon.example share the domain key
`falcon.example`."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

# Legal forms dropped from the end of a name (after punctuation is removed: "S.A." is "sa").
LEGAL_SUFFIXES = frozenset({
    "ab", "ag", "as", "bv", "co", "company", "corp", "corporation", "gmbh", "inc", "incorporated", "kg",
    "limited", "llc", "llp", "lp", "ltd", "nv", "oy", "plc", "pty", "sa", "sarl", "sas", "spa", "srl",
})

_NOT_WORD = re.compile(r"[^0-9a-z]+")


def name_key(name: str) -> str:
    """Case, accents, punctuation, whitespace and trailing legal forms removed."""
    text = unicodedata.normalize("NFKD", name or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = text.replace(".", "").replace("&", " ")
    words = [w for w in _NOT_WORD.split(text) if w]
    while len(words) > 1 and words[-1] in LEGAL_SUFFIXES:
        words.pop()
    return "".join(words)[:200]


def domain_key(website: str) -> str:
    """The host of a web address: scheme, user, port, `www.`, path and case removed."""
    text = (website or "").strip().lower()
    if not text:
        return ""
    if "//" not in text:
        text = f"//{text}"
    try:
        host = urlsplit(text).hostname or ""
    except ValueError:
        return ""
    host = host.rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    return host[:300]
