"""What every search box shares: reading the typed query, phone numbers in any notation, and
the matched parts of a value to highlight.

The database side is the same on PostgreSQL and SQLite: a word is found with `icontains`
(which a trigram index serves on PostgreSQL), a phone number by its digits. PostgreSQL adds
what only it has (typos through trigram similarity, full-text search with weights), in the
QuerySet methods and the search app.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, TypeVar

from django.contrib.postgres.lookups import TrigramWordSimilar
from django.core.exceptions import ValidationError
from django.db import connections, models
from django.db.models import Func, Q, QuerySet
from django.db.models.functions import Upper

_Rows = TypeVar("_Rows", bound=QuerySet[Any])

MIN_LENGTH = 2
MAX_LENGTH = 200
# More words than this are not what a search box is for; the rest are ignored.
MAX_WORDS = 8
# A phone fragment of fewer digits would find half the book.
MIN_PHONE_DIGITS = 3
# Typos are looked for in words of at least this length (shorter ones are similar to anything).
MIN_SIMILAR_LENGTH = 4
MAX_SIMILAR_LENGTH = 30

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_WORD = re.compile(r"[^\W_]+(?:['.@+-][^\W_]+)*")
_PHONE_SHAPED = re.compile(r"\+?[\d\s()./-]+")
# Country calling codes of two digits (ITU-T E.164). Codes starting with 1 or 7 have one digit,
# every other code three: the codes are prefix-free, so the first digits say where it ends.
_TWO_DIGIT_COUNTRY_CODES = frozenset(
    "20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 60 61 62 63 64 65 66 "
    "81 82 84 86 90 91 92 93 94 95 98".split()
)


def clean_query(raw: Any) -> str:
    """The query as typed, made safe to search for, or a ValidationError that says why not."""
    text = _CONTROL.sub(" ", str(raw or ""))
    text = " ".join(text.split())
    if not text:
        raise ValidationError("Type something to search for.", code="required")
    if len(text) > MAX_LENGTH:
        raise ValidationError(f"Search for at most {MAX_LENGTH} characters.", code="max_length")
    if len(text) < MIN_LENGTH or not (words(text) or phone_variants(text)):
        raise ValidationError(f"Type at least {MIN_LENGTH} letters or digits to search for.", code="min_length")
    return text


def words(query: str) -> list[str]:
    """The words of a query, punctuation around them dropped ("(030)" is "030", "o'brien" stays)."""
    return _WORD.findall(query)[:MAX_WORDS]


def phone_variants(query: str) -> list[str]:
    """The digit strings a phone-shaped query can be stored as, or [] when it is no phone number.

    "+49 30 1234", "0049 30 1234", "030-1234" and "(030) 1234" all give "301234" (the number
    without trunk prefix or country code), and the international ones also "49301234", so each
    finds "+49 30 12345" and "030 12345" alike."""
    if not _PHONE_SHAPED.fullmatch(query.strip()):
        return []
    digits = re.sub(r"\D", "", query)
    international = query.strip().startswith("+") or digits.startswith("00")
    variants = []
    if international:
        digits = digits.removeprefix("00")
        variants.append(digits)
        national = digits[_country_code_length(digits):]
    else:
        national = digits.lstrip("0")
    variants.append(national)
    return [v for v in dict.fromkeys(variants) if len(v) >= MIN_PHONE_DIGITS]


def _country_code_length(digits: str) -> int:
    if digits[:1] in ("1", "7"):
        return 1
    return 2 if digits[:2] in _TWO_DIGIT_COUNTRY_CODES else 3


def _may_be_misspelt(word: str) -> bool:
    """A word of a name, long enough for a typo to be told from another word. Not an email or
    a number: their trigrams would make PostgreSQL visit most of an index to find near misses."""
    return MIN_SIMILAR_LENGTH <= len(word) <= MAX_SIMILAR_LENGTH and word.replace("'", "").replace("-", "").isalpha()


class PhoneDigits(Func):
    """A phone number's digits alone, in SQL. PostgreSQL indexes this expression with trigrams
    (crm's migration 0010), so it must stay exactly as the index was built."""

    output_field = models.CharField()
    template = "REGEXP_REPLACE(%(expressions)s, '[^0-9]+', '', 'g')"

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        # SQLite has no regexp_replace: the separators people type, one by one.
        template = "%(expressions)s"
        for separator in (" ", "-", "(", ")", "+", ".", "/"):
            template = f"REPLACE({template}, '{separator}', '')"
        return super().as_sql(compiler, connection, template=template, **extra_context)


def is_postgresql(qs: QuerySet[Any]) -> bool:
    return bool(connections[qs.db].vendor == "postgresql")


def matching(
    qs: _Rows, query: str, *, fields: tuple[str, ...], similar: tuple[str, ...] = (), phone: str = ""
) -> _Rows:
    """The rows of `qs` where every word of the query is in one of `fields` (case aside: "anna
    schm" finds Anna Schmidt), or, on PostgreSQL, is a typo away from a word of one of the
    `similar` fields; or whose `phone` field holds the query's phone number in any notation.

    On PostgreSQL each condition is served by a trigram index on UPPER(field) (what
    `icontains` compiles to) or on the phone's digits: the migrations that create them are
    crm 0010, handover 0003 and delivery 0005.

    A page of matches sorted by an indexed column (`order_by("name")`) lets PostgreSQL walk
    that column's index testing each row until it has a page, which for a word found nowhere is
    every row (2.1 s on 100k accounts): sort matches by an expression instead (`Lower("name")`),
    so that the matches come from the trigram indexes and only they are sorted."""
    condition = match_condition(query, fields=fields, similar=similar, postgres=is_postgresql(qs), phone=phone)
    if condition is None:
        return qs.none()  # type: ignore[return-value]
    if phone and phone_variants(query):
        qs = qs.alias(phone_digits_match=PhoneDigits(phone))  # type: ignore[assignment]
    return qs.filter(condition)  # type: ignore[return-value]


def match_condition(
    query: str, *, fields: tuple[str, ...], similar: tuple[str, ...] = (), postgres: bool, phone: str = ""
) -> Q | None:
    """`matching`'s condition alone (None: nothing to look for). With `phone`, the rows need
    the `phone_digits_match` alias (PhoneDigits of that field)."""
    variants = phone_variants(query) if phone else []
    if variants:
        # A phone number's digits are not words of a name or an email.
        by_phone = Q()
        for variant in variants:
            by_phone |= Q(phone_digits_match__contains=variant)
        return by_phone
    query_words = words(query)
    if not query_words:
        return None
    condition = Q()
    for word in query_words:
        any_field = Q()
        for field in fields:
            any_field |= Q(**{f"{field}__icontains": word})
        if postgres and _may_be_misspelt(word):
            for field in similar:
                any_field |= Q(TrigramWordSimilar(Upper(field), word))
        condition &= any_field
    return condition


@dataclass(frozen=True)
class Segment:
    """A piece of a shown value; `match` pieces are highlighted (templates escape the text)."""

    text: str
    match: bool


def highlight(value: str, query: str) -> list[Segment] | None:
    """`value` cut into pieces with each word of the query marked, or None when none is in it."""
    folded = value.casefold()
    spans = []
    for word in words(query):
        needle = word.casefold()
        start = folded.find(needle)
        while needle and start != -1:
            spans.append((start, start + len(needle)))
            start = folded.find(needle, start + len(needle))
    if not spans or len(folded) != len(value):
        # casefold can change a string's length (ß -> ss): then positions no longer line up,
        # and the value is shown whole when a word is in it.
        return [Segment(value, True)] if spans else None
    return _cut(value, spans)


def highlight_phone(value: str, query: str) -> list[Segment] | None:
    """`value` with the digits the query's phone number matched marked, or None."""
    positions = [i for i, ch in enumerate(value) if ch.isdigit()]
    digits = "".join(value[i] for i in positions)
    for variant in phone_variants(query):
        start = digits.find(variant)
        if start != -1:
            return _cut(value, [(positions[start], positions[start + len(variant) - 1] + 1)])
    return None


def _cut(value: str, spans: list[tuple[int, int]]) -> list[Segment]:
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    segments, at = [], 0
    for start, end in merged:
        if start > at:
            segments.append(Segment(value[at:start], False))
        segments.append(Segment(value[start:end], True))
        at = end
    if at < len(value):
        segments.append(Segment(value[at:], False))
    return segments


def excerpt(value: str, query: str, width: int = 160) -> str:
    """A window of long text around the first word of the query found in it."""
    value = " ".join(value.split())
    if len(value) <= width:
        return value
    folded = value.casefold()
    hits = [folded.find(w.casefold()) for w in words(query)]
    first = min((h for h in hits if h >= 0), default=0)
    start = max(0, min(first - width // 3, len(value) - width))
    text = value[start:start + width]
    return ("…" if start else "") + text + ("…" if start + width < len(value) else "")
