"""The header search: accounts, contacts, deals, promises, problems and timeline text the user
may see, grouped by kind, best match first, each result with why it matched.

Each kind is found in two steps so that a common word costs the same as a rare one:
1. candidates: the visible, live rows the indexed conditions match (trigram indexes on names,
   emails, phones; full-text indexes on long text), at most CANDIDATES of them, plus the exact and
   prefix matches of the name, which ranking must not miss;
2. ranking of those candidates alone: on PostgreSQL full-text rank with weights (names A, emails
   and titles B, text C), trigram similarity (typos) and a bonus for an exact or prefix name; on
   SQLite exact, then prefix, then the rest.
A count says how many match (visible rows only), up to COUNT_CAP.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector, TrigramWordSimilarity
from django.db.models import BooleanField, Case, F, FloatField, Func, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import Upper
from django.urls import NoReverseMatch, reverse
from django.utils.http import urlencode

from core import search as terms
from crm import roles
from crm.models import Account, Activity, Contact, Deal
from delivery.models import Problem
from handover.models import Promise

PER_KIND = 5
MORE_PER_KIND = 50
# Rows of one kind ranked at most: the ranking of a word found in 3,000 names reads 250 rows.
CANDIDATES = 200
PREFERRED = 50
COUNT_CAP = 100


@dataclass(frozen=True)
class Result:
    kind: str
    pk: int
    title: str
    url: str
    where: str  # where it is: the account, a stage, a date
    reason: str  # "email matches", "name is similar", ...
    matched: list[terms.Segment]  # the text that matched, its matching parts marked


@dataclass
class Group:
    kind: str
    title: str
    results: list[Result]
    count: int  # visible matches, up to COUNT_CAP + 1
    more_url: str = ""

    @property
    def capped(self) -> bool:
        return self.count > COUNT_CAP

    @property
    def count_label(self) -> str:
        return f"more than {COUNT_CAP}" if self.capped else str(self.count)

    @property
    def has_more(self) -> bool:
        return self.count > len(self.results)


@dataclass
class SearchResults:
    query: str
    groups: list[Group] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return any(g.results for g in self.groups)


@dataclass(frozen=True)
class Kind:
    key: str
    title: str
    singular: str
    model: Any
    rows: Callable[[Any, list[int] | None, str], QuerySet[Any]]  # (user, scope, query) -> visible matches
    preferred: Callable[[str], Q] | None  # exact and prefix name matches
    rank: Callable[[str, bool], Any]  # (query, postgres) -> rank expression
    result: Callable[[Any, str], Result]
    list_url: str = ""  # the url name of the list the "more" link opens, with ?q=
    related: tuple[str, ...] = ()


def prefix_tsquery(query: str) -> SearchQuery | None:
    """Every word of the query as a prefix ("freig" finds "freight"), quoted so that no character
    typed can be tsquery syntax."""
    lexemes = [f"'{w.lower()}':*" for w in terms.words(query) if re.fullmatch(r"[^\W_]+", w)]
    if not lexemes:
        return None
    return SearchQuery(" & ".join(lexemes), search_type="raw", config="simple")


def _name_bonus(name: str, query: str) -> Case:
    """Exact name first, then names that start with the query, then the rest."""
    return Case(
        When(**{f"{name}__iexact": query}, then=Value(3.0)),
        When(**{f"{name}__istartswith": query}, then=Value(2.0)),
        default=Value(1.0), output_field=FloatField(),
    )


# The weights of full-text rank (PostgreSQL's defaults for D, C, B, A), reused on SQLite.
WEIGHTS = {"A": 1.0, "B": 0.4, "C": 0.2}


def _rank(name: str | None, fields: dict[str, str]) -> Callable[[str, bool], Any]:
    """`fields` maps each field to its weight: names A, emails and titles B, text C."""

    def rank(query: str, postgres: bool) -> Any:
        score: Any = _name_bonus(name, query) if name else Value(1.0, output_field=FloatField())
        if postgres:
            tsquery = prefix_tsquery(query)
            if tsquery is not None:
                vectors = [SearchVector(f, weight=w, config="simple") for f, w in fields.items()]
                vector: Any = vectors[0]
                for more in vectors[1:]:
                    vector = vector + more
                score = score + SearchRank(vector, tsquery)
            if name:
                score = score + TrigramWordSimilarity(query, Upper(name))
            return score
        # SQLite: each field a word is in adds its weight.
        for word in terms.words(query):
            for f, w in fields.items():
                score = score + Case(When(**{f"{f}__icontains": word}, then=Value(WEIGHTS[w])),
                                     default=Value(0.0), output_field=FloatField())
        return score

    return rank


def _text_matches(qs: QuerySet[Any], query: str, fields: tuple[str, ...]) -> QuerySet[Any]:
    """Long text: full-text (prefixes of every word) on PostgreSQL, served by the index the
    migrations create on exactly this vector; every word in one of the fields on SQLite."""
    if terms.is_postgresql(qs):
        tsquery = prefix_tsquery(query)
        if tsquery is None:
            return qs.none()
        return qs.alias(text_document=SearchVector(*fields, config="simple")).filter(text_document=tsquery)
    return terms.matching(qs, query, fields=fields)


def _reason(query: str, checks: list[tuple[str, str, bool]]) -> tuple[str, list[terms.Segment]]:
    """The first of (label, value, is_phone) that the query is in, and its marked text."""
    for label, value, is_phone in checks:
        if not value:
            continue
        segments = terms.highlight_phone(value, query) if is_phone else terms.highlight(value, query)
        if segments:
            return f"{label} matches", segments
    label, value, _ = checks[0]
    return f"{label} is similar", [terms.Segment(value, False)]


def _where(*parts: str) -> str:
    return " · ".join(p for p in parts if p)


def _account_result(a: Account, query: str) -> Result:
    reason, matched = _reason(query, [("name", a.name, False), ("city", a.city, False),
                                      ("industry", a.industry, False)])
    return Result("accounts", a.pk, a.name, reverse("crm:account_detail", args=[a.pk]),
                  _where(a.city, a.industry), reason, matched)


def _contact_result(c: Contact, query: str) -> Result:
    reason, matched = _reason(query, [("name", c.full_name, False), ("email", c.email, False),
                                      ("phone", c.phone, True), ("job title", c.title, False)])
    # A contact has no page of its own: the account page lists them.
    return Result("contacts", c.pk, c.full_name, reverse("crm:account_detail", args=[c.account_id]),
                  _where(c.title, c.account.name), reason, matched)


def _deal_result(d: Deal, query: str) -> Result:
    reason, matched = _reason(query, [("name", d.name, False)])
    return Result("deals", d.pk, d.name, reverse("crm:deal_detail", args=[d.pk]),
                  _where(d.account.name, d.get_stage_display()), reason, matched)


def _promise_result(p: Promise, query: str) -> Result:
    reason, matched = _reason(query, [("promise", terms.excerpt(p.description, query), False),
                                      ("source", p.source_reference, False)])
    return Result("promises", p.pk, terms.excerpt(p.description, "", 80),
                  reverse("handover:deal_promises", args=[p.deal_id]),
                  _where(p.deal.name, p.account.name, p.get_state_display()), reason, matched)


def _problem_result(p: Problem, query: str) -> Result:
    reason, matched = _reason(query, [("title", p.title, False),
                                      ("description", terms.excerpt(p.description, query), False)])
    return Result("problems", p.pk, p.title, reverse("delivery:problem_detail", args=[p.pk]),
                  _where(p.account.name, p.get_state_display()), reason, matched)


def _activity_result(a: Activity, query: str) -> Result:
    reason, matched = _reason(query, [("subject", a.subject, False),
                                      ("text", terms.excerpt(a.body, query), False)])
    when = a.occurred_at.date().isoformat()
    return Result("activities", a.pk, a.subject, reverse("crm:activity_detail", args=[a.pk]),
                  _where(a.account.name, a.get_kind_display(), when), reason, matched)


KINDS = [
    Kind(
        "accounts", "Accounts", "account", Account,
        rows=lambda user, scope, q: Account.objects.visible_to(user).live().matching(q),
        preferred=lambda q: Q(name__istartswith=q),
        rank=_rank("name", {"name": "A", "city": "B", "industry": "B"}),
        result=_account_result, list_url="crm:account_list",
    ),
    Kind(
        "contacts", "Contacts", "contact", Contact,
        rows=lambda user, scope, q: _visible(Contact, user, scope).live().matching(q),
        preferred=lambda q: Q(last_name__istartswith=q) | Q(first_name__istartswith=q),
        rank=_rank("last_name", {"first_name": "A", "last_name": "A", "email": "B", "title": "B"}),
        result=_contact_result, list_url="crm:contact_list", related=("account",),
    ),
    Kind(
        "deals", "Deals", "deal", Deal,
        rows=lambda user, scope, q: _visible(Deal, user, scope).matching(q),
        preferred=lambda q: Q(name__istartswith=q),
        rank=_rank("name", {"name": "A"}),
        result=_deal_result, list_url="crm:deal_list", related=("account",),
    ),
    Kind(
        "promises", "Promises", "promise", Promise,
        rows=lambda user, scope, q: _text_matches(
            _visible(Promise, user, scope), q, ("description", "source_reference")
        ),
        preferred=None,
        rank=_rank(None, {"source_reference": "B", "description": "C"}),
        result=_promise_result, related=("deal", "account"),
    ),
    Kind(
        "problems", "Problems", "problem", Problem,
        rows=lambda user, scope, q: _problems(_visible(Problem, user, scope), q),
        preferred=lambda q: Q(title__istartswith=q),
        rank=_rank("title", {"title": "B", "description": "C"}),
        result=_problem_result, related=("account",),
    ),
    Kind(
        "activities", "Timeline", "timeline entry", Activity,
        rows=lambda user, scope, q: _text_matches(
            _visible(Activity, user, scope), q, ("subject", "body")
        ),
        preferred=None,
        rank=_rank(None, {"subject": "B", "body": "C"}),
        result=_activity_result, related=("account",),
    ),
]
KIND_KEYS = [k.key for k in KINDS]


def _problems(visible: QuerySet[Problem], query: str) -> QuerySet[Problem]:
    """A problem's title by trigrams (partial words, typos); on PostgreSQL its text by full-text too."""
    postgres = terms.is_postgresql(visible)
    if not postgres:
        return terms.matching(visible, query, fields=("title", "description"))
    condition = terms.match_condition(query, fields=("title",), similar=("title",), postgres=True)
    tsquery = prefix_tsquery(query)
    if tsquery is not None:
        visible = visible.alias(text_document=SearchVector("title", "description", config="simple"))
        by_text = Q(text_document=tsquery)
        condition = by_text if condition is None else condition | by_text
    return visible.filter(condition) if condition is not None else visible.none()


def search(*, user: Any, query: str, kind: str = "", per_kind: int = PER_KIND) -> SearchResults:
    """`query` is clean (core.search.clean_query). With `kind`, that kind alone, more of it."""
    results = SearchResults(query=query)
    scope = None if roles.sees_all_accounts(user) else list(
        Account.objects.visible_to(user).values_list("pk", flat=True)
    )
    for k in KINDS:
        if kind and k.key != kind:
            continue
        results.groups.append(_group(k, user, scope, query, per_kind))
    return results


def _visible(model: Any, user: Any, scope: list[int] | None) -> Any:
    """`model.objects.visible_to(user)` with the user's accounts (`Account.objects.visible_to`)
    read once for every kind. With the subquery, PostgreSQL walks a rep's whole book and
    recomputes each timeline row's text vector (695 ms for a common word on the 100k bench
    data); with the accounts' keys it intersects the two indexes (46 ms)."""
    if scope is None:
        return model.objects.visible_to(user)
    rows = model.objects.all()
    if terms.is_postgresql(rows):
        # One array parameter rather than a placeholder per account: psycopg spent longer
        # splitting a query of 2,000 placeholders than PostgreSQL took to run it.
        return rows.filter(AnyOf("account_id", scope))
    return rows.filter(account_id__in=scope)


class AnyOf(Func):
    """`field = ANY(array)`: membership in a list of keys passed as one array."""

    template = "%(expressions)s)"
    arg_joiner = " = ANY("
    output_field = BooleanField()

    def __init__(self, field: str, keys: list[int]) -> None:
        super().__init__(F(field), Value(keys, output_field=ArrayField(IntegerField())))


def _group(kind: Kind, user: Any, scope: list[int] | None, query: str, limit: int) -> Group:
    matches = kind.rows(user, scope, query).order_by()
    # The candidates' keys are read first: "pk IN (subquery) OR pk IN (subquery)" would make
    # PostgreSQL read the whole table to test each row against both.
    found = list(_candidate_order(kind, matches, query).values_list("pk", flat=True)[:CANDIDATES])
    candidates = set(found)
    if kind.preferred is not None and len(found) == CANDIDATES:
        # Fewer candidates are every match, the preferred ones among them. More: a common word,
        # whose preferred matches the bare LIMIT finds among the first rows.
        candidates.update(matches.filter(kind.preferred(query)).values_list("pk", flat=True)[:PREFERRED])
    if not candidates:
        return Group(kind.key, kind.title, [], 0)
    postgres = terms.is_postgresql(matches)
    ranked = (
        kind.model.objects.filter(pk__in=sorted(candidates))
        .select_related(*kind.related)
        .annotate(search_rank=kind.rank(query, postgres))
        .order_by(F("search_rank").desc(), "-pk")  # equal ranks: the newest first
    )
    rows = list(ranked[: limit + 1])
    # The first candidates are every match when there are fewer than CANDIDATES of them, and
    # more than COUNT_CAP otherwise: they are the count, with no query of its own.
    count = min(len(found), COUNT_CAP + 1)
    shown = [kind.result(row, query) for row in rows[:limit]]
    return Group(kind.key, kind.title, shown, count, _more_url(kind, query) if count > limit else "")


def _candidate_order(kind: Kind, matches: QuerySet[Any], query: str) -> QuerySet[Any]:
    """The newest matches first, sorted by an expression on the names' kinds when the trigram
    indexes can serve every word (3 characters or more).

    PostgreSQL estimates a typo condition (`%>`) to match 1% of the rows, so with a bare LIMIT
    it chose to read the contacts table in order until it had 200 rows, which for a rare
    surname is every row (840 ms on the 100k bench data, 307k contacts). A sort by an expression
    that no index holds makes it collect the matches from the trigram indexes (a BitmapOr) and
    sort only them (under 1 ms). Words shorter than a trigram are not served by the indexes:
    those keep the bare LIMIT, which stops at the first rows that match. Long text
    (timeline, promises) keeps it too: a common word there matches a large part of the table."""
    if kind.preferred is None or any(len(w) < 3 for w in terms.words(query)):
        return matches
    return matches.order_by(-F("pk"))


def _more_url(kind: Kind, query: str) -> str:
    """The kind's own list with the query when it has one, else this page with that kind alone."""
    if kind.list_url:
        try:
            return f"{reverse(kind.list_url)}?{urlencode({'q': query})}"
        except NoReverseMatch:
            pass
    return f"{reverse('search:results')}?{urlencode({'q': query, 'kind': kind.key})}"
