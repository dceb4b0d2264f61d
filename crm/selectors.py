"""Page-shaped reads. Each returns what one page or endpoint needs in a fixed number of queries."""

from __future__ import annotations

import zoneinfo
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Case, Count, IntegerField, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Lower

from core import search as core_search
from core.counting import COUNT_CAP, capped_count
from core.names import person_fields, person_name
from core.time_zones import zone_named
from crm import account_page_cache, roles
from crm.models import (
    CONTACT_SEARCH_FIELDS,
    Account,
    AccountTeamMember,
    Activity,
    Contact,
    Deal,
    OwnershipChange,
    PipelineTotal,
    UserProfile,
)

# The accounts list's order, along the `account_name` index (name, id): the page's, and the
# keys its export pages along.
ACCOUNT_LIST_ORDER = ("name", "pk")


def account_list(
    *, user: Any, search: str = "", owner: Any = None, lifecycle: str = "", single_threaded: bool | None = None,
    mine: bool = False, archived: bool = False,
) -> QuerySet[Account]:
    """The accounts list (and its CSV export): visible accounts, filtered, with owner and thread
    counts annotated. Archived accounts too with `archived`; merged ones (tombstones that
    redirect to their survivor) never."""
    qs = Account.objects.visible_to(user).select_related("owner")
    qs = qs.filter(merged_into__isnull=True) if archived else qs.live()
    if mine:
        qs = qs.filter(team__user=user, team__ended_at__isnull=True).distinct()
    if search:
        qs = qs.matching(search)
    if owner is not None:
        qs = qs.filter(owner=owner)
    if lifecycle:
        qs = qs.filter(lifecycle=lifecycle)
    if single_threaded is True:
        qs = qs.single_threaded()
    elif single_threaded is False:
        qs = qs.multi_threaded()
    else:
        qs = qs.with_thread_counts()
    if search:
        # Sorted by an expression, not the name index (see core.search.matching): the matches
        # are found through the trigram indexes, then sorted (case aside).
        return qs.order_by(Lower("name"), "pk")
    return qs.order_by(*ACCOUNT_LIST_ORDER)


@dataclass
class AccountPage:
    account: Account
    contacts: list[Contact]
    archived_contacts: list[Contact]
    team: list[AccountTeamMember]
    past_team: list[AccountTeamMember]
    ownership: list[OwnershipChange]
    deals: Sequence[Deal]
    timeline: list[Activity]
    timeline_has_more: bool

    @property
    def single_threaded(self) -> bool:
        people = {m.user_id for m in self.team}
        return sum(1 for c in self.contacts if c.is_active) <= 1 or len(people) <= 1


# Timeline entries per page (the account page's, and each "Older entries" load).
TIMELINE_PAGE = 30


def account_page(
    *, account: Account, timeline_limit: int = TIMELINE_PAGE, timeline_before: int | None = None
) -> AccountPage:
    """Everything the account page shows, in a handful of queries whatever the history length.
    The contacts, deals, team and ledger come from the account page cache
    (crm.account_page_cache) while no write bumped its version; the timeline, which every event
    of every app adds to, is read each time."""
    every_contact, deals, members, ownership = account_page_cache.cached(account.pk, lambda: _account_rows(account))
    # Cached rows carry the account as it was when they were read: they get this one.
    for contact in every_contact:
        contact.account = account
    # Archived contacts are out of the list (`Contact.objects.live()`), kept apart to restore.
    contacts = [c for c in every_contact if c.archived_at is None]
    for deal in deals:
        deal.account = account
    return AccountPage(
        account=account,
        contacts=contacts,
        archived_contacts=[c for c in every_contact if c.archived_at is not None],
        team=[m for m in members if m.ended_at is None],
        past_team=[m for m in members if m.ended_at is not None],
        ownership=ownership,
        deals=deals,
        **_timeline(account=account, limit=timeline_limit, before=timeline_before),
    )


def _account_rows(
    account: Account,
) -> tuple[list[Contact], Sequence[Deal], list[AccountTeamMember], list[OwnershipChange]]:
    """Each query reads the columns the page shows (crm/account_detail.html)."""
    contacts = list(account.contacts.filter(merged_into__isnull=True))
    deals = list(
        account.deals.select_related("owner", "sold_by")
        .only(
            "account_id", "name", "value", "currency", "expected_close_date", "stage", "closed_at", "created_at",
            *person_fields("owner", "sold_by"),
        )
        .annotate(item_count=Count("line_items"))
        .order_by("-created_at", "-pk")
    )
    members = list(
        account.team.select_related("user")
        .only("account_id", "role", "started_at", "ended_at", *person_fields("user"))
        .order_by("role", "-started_at")
    )
    ownership = list(
        account.ownership_changes.select_related("from_user", "to_user", "assigned_by")
        .only("account_id", "changed_at", "reason", "note", *person_fields("from_user", "to_user", "assigned_by"))[:50]
    )
    return contacts, deals, members, ownership


@dataclass
class TimelinePage:
    timeline: list[Activity]
    timeline_has_more: bool


def timeline_page(*, account: Account, limit: int = TIMELINE_PAGE, before: int | None = None) -> TimelinePage:
    """The timeline rows alone, for the "Older entries" button (the rest of the page is there)."""
    return TimelinePage(**_timeline(account=account, limit=limit, before=before))


# What a timeline row shows (crm_ui.timeline_item). Loading only these columns skips each
# event's JSON data and the deal's and the actor's whole rows.
TIMELINE_ROW_FIELDS = (
    "kind", "subject", "body", "occurred_at", "actor_label", "deal__name",
    "actor__username", "actor__first_name", "actor__last_name",
)


def _timeline(*, account: Account, limit: int, before: int | None) -> dict[str, Any]:
    qs = Activity.objects.filter(account=account).timeline().only(*TIMELINE_ROW_FIELDS)
    if before is not None:
        pivot = Activity.objects.filter(account=account, pk=before).values_list("occurred_at", flat=True).first()
        if pivot is not None:
            qs = qs.filter(Q(occurred_at__lt=pivot) | Q(occurred_at=pivot, pk__lt=before))
    # One row more than shown, to know whether there are older ones.
    rows = list(qs[: limit + 1])
    return {"timeline": rows[:limit], "timeline_has_more": len(rows) > limit}


def account_timeline(*, account: Account) -> QuerySet[Activity]:
    return Activity.objects.filter(account=account).timeline()


@dataclass(frozen=True)
class DealCard:
    """A deal on the pipeline board: what its card shows, read as plain values. Model instances
    of the deal, its account and its owner would be built per card for three strings."""

    pk: int
    name: str
    value: Decimal
    currency: str
    account_name: str
    owner_name: str  # as crm_ui's `person` names a user: full name, else username
    account_id: int
    created_at: datetime  # the column's order: newest first, then the highest pk


# Cards per column on the board, and per "Show more".
PIPELINE_PAGE = 12


@dataclass
class PipelineColumn:
    stage: str
    label: str
    deals: list[DealCard]  # the latest of the stage (or the next ones after a cursor)
    count: int
    # (currency, amount) pairs: values in different currencies are never added together.
    totals: list[tuple[str, Decimal]]
    more: int = 0  # cards of the stage after these, counted up to COUNT_CAP + 1

    @property
    def is_open(self) -> bool:
        return self.stage in Deal.OPEN_STAGES

    @property
    def cursor(self) -> int | None:
        """Where "Show more" continues: the last card shown."""
        return self.deals[-1].pk if self.deals else None

    @property
    def more_label(self) -> str:
        return f"{COUNT_CAP:,}+" if self.more > COUNT_CAP else f"{self.more:,}"


def _deal_cards(deals: QuerySet[Deal]) -> list[DealCard]:
    rows = deals.values_list(
        "pk", "name", "value", "currency", "account__name", "owner__first_name", "owner__last_name", "owner__username",
        "account_id", "created_at",
    )
    return [
        DealCard(pk, name, value, currency, account_name, person_name(first, last, username), account_id, created_at)
        for pk, name, value, currency, account_name, first, last, username, account_id, created_at in rows
    ]


def _pipeline_base(user: Any, owner: Any) -> QuerySet[Deal]:
    base = Deal.objects.visible_to(user)
    return base.filter(owner=owner) if owner is not None else base


def _stage_after(base: QuerySet[Deal], stage: str, after: DealCard | int | None) -> QuerySet[Deal]:
    """The stage's deals in the board's order, after the card `after` (a card shown, or the id of
    one: a keyset on the order's columns, which the stage index serves, so a later page costs
    what the first one does). An id the user cannot see starts from the top."""
    qs = base.filter(stage=stage).order_by("-created_at", "-pk")
    if isinstance(after, int):
        pivot = base.filter(pk=after).values_list("created_at", flat=True).first()
        if pivot is None:
            return qs
        after_key = (pivot, after)
    elif after is not None:
        after_key = (after.created_at, after.pk)
    else:
        return qs
    created_at, pk = after_key
    return qs.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, pk__lt=pk))


def _page_of(qs: QuerySet[Deal], per_stage: int) -> tuple[list[DealCard], bool]:
    # One card more than shown, to know whether there are more.
    cards = _deal_cards(qs[: per_stage + 1])
    return cards[:per_stage], len(cards) > per_stage


def pipeline(
    *, user: Any, owner: Any = None, per_stage: int = PIPELINE_PAGE, stage: str | None = None, after: int | None = None,
) -> list[PipelineColumn]:
    """The deal pipeline: per stage, the count, the value per currency and the latest deals
    (for `stage`, those after the card `after`: a page without script pages through a column),
    in one query for the totals and one per stage."""
    base = _pipeline_base(user, owner)
    kept_totals = owner is None and roles.sees_all_accounts(user)
    columns = []
    for column in pipeline_totals(user=user, owner=owner):
        value = column.stage
        # Counts summed from the same deals just now: a stage without any needs no query (the
        # stage index would be walked to its end looking for one of the user's deals).
        if kept_totals or column.count:
            paged = after if value == stage else None
            column.deals, has_more = _page_of(_stage_after(base, value, paged), per_stage)
            if has_more:
                column.more = (
                    max(column.count - len(column.deals), 1) if paged is None
                    else capped_count(_stage_after(base, value, column.deals[-1]), COUNT_CAP)
                )
        columns.append(column)
    return columns


def pipeline_totals(*, user: Any, owner: Any = None) -> list[PipelineColumn]:
    """Each column's count and value per currency without its cards, in one query: what the board
    shows again after a card moved.

    Users who see every deal read the totals the deal services keep (a few rows, whatever the
    number of deals); everyone else sums their own, which is bounded by their book."""
    if owner is None and roles.sees_all_accounts(user):
        rows = PipelineTotal.objects.values("stage", "currency", "deal_count", "value_total")
        sums = [(r["stage"], r["currency"], r["deal_count"], r["value_total"]) for r in rows]
    else:
        base = _pipeline_base(user, owner)
        deal_rows = base.order_by().values("stage", "currency").annotate(n=Count("pk"), total=Sum("value"))
        sums = [(r["stage"], r["currency"], r["n"], r["total"] or Decimal(0)) for r in deal_rows]
    counts: dict[str, int] = defaultdict(int)
    totals: dict[str, list[tuple[str, Decimal]]] = defaultdict(list)
    for stage, currency, n, total in sorted(sums, key=lambda r: (r[0], r[1])):
        if n:
            counts[stage] += n
            totals[stage].append((currency, total))
    return [
        PipelineColumn(stage=stage, label=label, deals=[], count=counts[stage], totals=totals[stage])
        for stage, label in Deal.Stage.choices
    ]


def pipeline_more(
    *, user: Any, stage: str, after: int | None, owner: Any = None, per_stage: int = PIPELINE_PAGE,
) -> PipelineColumn:
    """The next cards of one column after the card `after` ("Show more"), with how many remain
    after them (capped): a few queries, wherever in the column the page is."""
    base = _pipeline_base(user, owner)
    deals, has_more = _page_of(_stage_after(base, stage, after), per_stage)
    column = PipelineColumn(stage=stage, label=Deal.Stage(stage).label, deals=deals, count=0, totals=[])
    if has_more:
        column.more = capped_count(_stage_after(base, stage, column.deals[-1]), COUNT_CAP)
    return column


def user_zone(user: Any) -> zoneinfo.ZoneInfo:
    """The time zone from the user's profile (UTC when unknown): pages show times, and read typed
    times, in it."""
    return zone_named(UserProfile.objects.filter(user_id=user.pk).values_list("time_zone", flat=True).first())


# --- The contacts and deals lists (and their CSV exports) ------------------------------------
#
# One selector per list: the page, its CSV export and the API's list all filter through it, so a
# filter means the same everywhere. Each sort is an allow-list entry ending in the primary key
# (pages never repeat or skip a row); the default ones are backed by indexes (crm 0011_lists).

CONTACT_SORTS: dict[str, tuple[str, ...]] = {
    "name": ("last_name", "first_name", "pk"),
    "-name": ("-last_name", "-first_name", "-pk"),
    "account": ("account__name", "last_name", "pk"),
    "-account": ("-account__name", "-last_name", "-pk"),
    "role": ("role", "last_name", "pk"),
    "-role": ("-role", "-last_name", "-pk"),
    "email": ("email", "pk"),
    "-email": ("-email", "-pk"),
    "created": ("created_at", "pk"),
    "-created": ("-created_at", "-pk"),
}
CONTACT_DEFAULT_SORT = "name"

DEAL_SORTS: dict[str, tuple[str, ...]] = {
    "name": ("name", "pk"),
    "-name": ("-name", "-pk"),
    "account": ("account__name", "pk"),
    "-account": ("-account__name", "-pk"),
    # In the pipeline's order (lead first), not the codes' alphabetical one.
    "stage": ("stage_order", "-updated_at", "-pk"),
    "-stage": ("-stage_order", "-updated_at", "-pk"),
    "amount": ("value", "pk"),
    "-amount": ("-value", "-pk"),
    "close": ("expected_close_date", "pk"),
    "-close": ("-expected_close_date", "-pk"),
    "owner": ("owner__first_name", "owner__last_name", "pk"),
    "-owner": ("-owner__first_name", "-owner__last_name", "-pk"),
    "created": ("created_at", "pk"),
    "-created": ("-created_at", "-pk"),
    "updated": ("updated_at", "pk"),
    "-updated": ("-updated_at", "-pk"),
}
DEAL_DEFAULT_SORT = "-updated"

# What the lists and the exports read: the columns they show, nothing else.
CONTACT_LIST_FIELDS = (
    "account_id", "first_name", "last_name", "title", "role", "email", "phone", "do_not_contact", "is_primary",
    "is_active", "left_at", "created_at", "archived_at", "merged_into_id",
    "account__name", "account__archived_at", "account__merged_into_id", *person_fields("account__owner"),
)
DEAL_LIST_FIELDS = (
    "account_id", "name", "value", "currency", "expected_close_date", "stage", "closed_at", "created_at",
    "updated_at", "account__name", *person_fields("owner"),
)

STAGE_ORDER = Case(
    *(When(stage=stage, then=Value(position)) for position, stage in enumerate(Deal.Stage.values)),
    default=Value(len(Deal.Stage.values)), output_field=IntegerField(),
)
DEAL_STATUSES = {"open": Deal.OPEN_STAGES, "won": [Deal.Stage.WON], "lost": [Deal.Stage.LOST]}


def sort_key(value: str | None, sorts: dict[str, tuple[str, ...]], default: str) -> str:
    """The requested sort when it is one the list offers, else the list's default (an unknown
    value is ignored, never an error)."""
    return value if value in sorts else default


def contacts_matching(qs: QuerySet[Contact], q: str) -> QuerySet[Contact]:
    """The contacts lists' `q` (the page, its export and the API): name, email or phone."""
    q = (q or "").strip()
    if not q:
        return qs
    # The condition on the rows themselves: `pk__in` the matching contacts made PostgreSQL join
    # the table to itself, reading every contact to probe a hash of the matches (on 307k
    # contacts, a common first name's page went from 147 ms to 60 ms).
    return core_search.matching(
        qs, q, fields=CONTACT_SEARCH_FIELDS, similar=("first_name", "last_name"), phone="phone"
    )


def deals_matching(qs: QuerySet[Deal], q: str) -> QuerySet[Deal]:
    """The deals lists' `q` (the page, its export and the API): the deal's or its account's name."""
    q = (q or "").strip()
    if not q:
        return qs
    return qs.filter(Q(pk__in=Deal.objects.matching(q).values("pk")) | Q(account__in=Account.objects.matching(q)))


# Text columns a searched list sorts by as expressions (core.search.matching: a page of matches
# sorted by an indexed column walks that index testing every row).
SEARCHED_TEXT_SORTS = {"name", "last_name", "first_name", "email", "role", "account__name"}


def searched_order(order: Sequence[str]) -> list[Any]:
    """`order` with its text columns as Lower() expressions, for a list filtered by `q`."""
    terms: list[Any] = []
    for term in order:
        field = term.removeprefix("-")
        if field not in SEARCHED_TEXT_SORTS:
            terms.append(term)
        elif term.startswith("-"):
            terms.append(Lower(field).desc())
        else:
            terms.append(Lower(field).asc())
    return terms


def contact_list(
    *, user: Any, q: str = "", role: str = "", owner: Any = None, mine: bool = False, active: bool | None = None,
    do_not_contact: bool | None = None, archived: bool = False, sort: str = CONTACT_DEFAULT_SORT,
) -> QuerySet[Contact]:
    """The contacts list: contacts of accounts the user may see, archived and merged ones (and
    those of archived or merged accounts) left out unless `archived`."""
    contacts = Contact.objects.visible_to(user)
    if not archived:
        contacts = contacts.live().filter(account__archived_at__isnull=True, account__merged_into__isnull=True)
    qs: QuerySet[Contact] = contacts.select_related("account", "account__owner")
    qs = contacts_matching(qs, q)
    if role:
        qs = qs.filter(role=role)
    if owner is not None:
        qs = qs.filter(account__owner=owner)
    if mine:
        qs = qs.filter(account__in=Account.objects.on_team_of(user.pk))
    if active is not None:
        qs = qs.filter(is_active=active)
    if do_not_contact is not None:
        qs = qs.filter(do_not_contact=do_not_contact)
    order = CONTACT_SORTS[sort_key(sort, CONTACT_SORTS, CONTACT_DEFAULT_SORT)]
    return qs.only(*CONTACT_LIST_FIELDS).order_by(*(searched_order(order) if q.strip() else order))


def deal_list(
    *, user: Any, q: str = "", stages: Sequence[str] = (), owner: Any = None, mine: bool = False, status: str = "",
    close_from: Any = None, close_to: Any = None, amount_min: Decimal | None = None,
    amount_max: Decimal | None = None, archived: bool = False, sort: str = DEAL_DEFAULT_SORT,
) -> QuerySet[Deal]:
    """The deals list: deals on accounts the user may see, those of archived or merged accounts
    left out unless `archived`."""
    qs: QuerySet[Deal] = Deal.objects.visible_to(user).select_related("account", "owner")
    if not archived:
        qs = qs.filter(account__archived_at__isnull=True, account__merged_into__isnull=True)
    qs = deals_matching(qs, q)
    if stages:
        qs = qs.filter(stage__in=list(stages))
    if status in DEAL_STATUSES:
        qs = qs.filter(stage__in=DEAL_STATUSES[status])
    if owner is not None:
        qs = qs.filter(owner=owner)
    if mine:
        qs = qs.filter(owner=user)
    if close_from is not None:
        qs = qs.filter(expected_close_date__gte=close_from)
    if close_to is not None:
        qs = qs.filter(expected_close_date__lte=close_to)
    if amount_min is not None:
        qs = qs.filter(value__gte=amount_min)
    if amount_max is not None:
        qs = qs.filter(value__lte=amount_max)
    order = DEAL_SORTS[sort_key(sort, DEAL_SORTS, DEAL_DEFAULT_SORT)]
    if order[0].lstrip("-") == "stage_order":
        qs = qs.annotate(stage_order=STAGE_ORDER)
    return qs.only(*DEAL_LIST_FIELDS).order_by(*(searched_order(order) if q.strip() else order))
