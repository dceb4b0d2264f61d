"""Every dashboard table is built once here, as rows of cells, and both the page and its CSV
export render that one object: the CSV has exactly the rows the page shows, with raw values
(numbers without separators, ISO dates) instead of the display text. The page draws it with the
insights/_table.html template.

The CSV is written for a spreadsheet, through core.csv_export (its `cell` writes each value and
neutralises formulas): labels rather than codes (a reason reads "Departure", not `departure`),
and no amount glued to its currency. A money column is declared with its kind:

- `ONE_CURRENCY` (a deal's value): two CSV columns, the amount as a plain number under the
  column's label, then its currency under "Currency".
- `BY_CURRENCY` (a sum over deals in several currencies, such as a person's value won): one CSV
  column per currency present in the table, "Value won (EUR)", "Value won (USD)", each holding
  that currency's amount (empty where there is none), so that each column adds up in a
  spreadsheet and no row is repeated (one row per currency would double every other figure of
  the row). A table with no amount at all keeps one empty column under the label.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from core.csv_export import amount_cells, streamed_csv
from crm.templatetags.crm_ui import money
from delivery.models import Problem
from insights import selectors as s

DASH = "—"


@dataclass
class Cell:
    text: str
    raw: Any = None
    href: str = ""
    tone: str = ""  # a badge tone (ok, warn, danger, muted) when the cell is a badge
    badges: list[tuple[str, str]] = field(default_factory=list)  # (text, tone) pairs, e.g. risk reasons
    numeric: bool = False
    wrap: bool = False  # a numeric cell that may break between its parts (several currencies)
    sub: str = ""  # a second, muted line on the page (the CSV has its own column for it)
    amounts: dict[str, Decimal] | None = None  # a money cell's amounts by currency (the CSV splits them)

    @property
    def csv_value(self) -> Any:
        """What the CSV writes (through core.csv_export.cell): the raw value, else the text."""
        return self.text if self.raw is None else self.raw


ONE_CURRENCY = "one"  # an amount in one currency: amount and currency columns
BY_CURRENCY = "several"  # amounts in several currencies: a column per currency


@dataclass
class Column:
    label: str
    numeric: bool = False
    csv_only: bool = False  # shown on the page as another cell's second line, not as a column
    money: str = ""  # ONE_CURRENCY or BY_CURRENCY for a money column (module docstring)


@dataclass
class Table:
    name: str
    title: str
    columns: list[Column]
    rows: list[list[Cell]]
    footer: list[Cell] | None = None
    empty: str = "Nothing in this period."
    note: str = ""

    @property
    def page_columns(self) -> list[Column]:
        return [c for c in self.columns if not c.csv_only]

    def _on_page(self, row: list[Cell]) -> list[Cell]:
        return [cell for cell, column in zip(row, self.columns, strict=True) if not column.csv_only]

    @property
    def page_rows(self) -> list[list[Cell]]:
        return [self._on_page(row) for row in self.rows]

    @property
    def page_footer(self) -> list[Cell] | None:
        return self._on_page(self.footer) if self.footer else None

    def csv_rows(self) -> list[list[Any]]:
        """The header, the rows and the footer as the CSV has them, money columns split."""
        lines = [*self.rows, *([self.footer] if self.footer else [])]
        currencies = {
            i: sorted({code for row in lines for code in (row[i].amounts or {})})
            for i, column in enumerate(self.columns) if column.money == BY_CURRENCY
        }
        header: list[Any] = []
        for i, column in enumerate(self.columns):
            if column.money == ONE_CURRENCY:
                header += [column.label, "Currency"]
            elif column.money == BY_CURRENCY:
                header += [f"{column.label} ({code})" for code in currencies[i]] or [column.label]
            else:
                header.append(column.label)
        body = [header]
        for row in lines:
            values: list[Any] = []
            for i, (cell, column) in enumerate(zip(row, self.columns, strict=True)):
                amounts = cell.amounts or {}
                if column.money == ONE_CURRENCY:
                    code, amount = next(iter(amounts.items()), ("", None))
                    values += amount_cells(amount, code)
                elif column.money == BY_CURRENCY:
                    values += [amounts.get(code) for code in currencies[i]] or [None]
                else:
                    values.append(cell.csv_value)
            body.append(values)
        return body


def csv_response(table: Table, *, dashboard: str, stamp: str) -> HttpResponseBase:
    """The table as a CSV download (core.csv_export writes each cell, formulas neutralised)."""
    header, *rows = table.csv_rows()
    name = slugify(f"keepwarm-{dashboard}-{table.name}-{stamp}") + ".csv"
    return streamed_csv(name, header, rows)


# --- Cell makers ------------------------------------------------------------------------------


def num(value: float | int | None, suffix: str = "") -> Cell:
    if value is None:
        return Cell(DASH, raw="", numeric=True)
    text = f"{value:,}" if isinstance(value, int) else f"{value:,.2f}".rstrip("0").rstrip(".")
    return Cell(f"{text}{suffix}", raw=value, numeric=True)


def values(amounts: dict[str, Decimal]) -> Cell:
    if not amounts:
        return Cell(DASH, raw="", numeric=True, amounts={})
    items = sorted(amounts.items())
    # Each amount stays on one line; several currencies may wrap between them.
    text = " · ".join(money(v, c).replace(" ", "\u00a0") for c, v in items)
    return Cell(text, amounts=dict(items), numeric=True, wrap=len(items) > 1)


def when(value: datetime | None) -> Cell:
    if value is None:
        return Cell(DASH, raw="")
    return Cell(timezone.localtime(value).strftime("%d %b %Y %H:%M"), raw=value)


def day(value: datetime | date | None) -> Cell:
    if value is None:
        return Cell(DASH, raw="")
    d = timezone.localtime(value).date() if isinstance(value, datetime) else value
    return Cell(d.strftime("%d %b %Y"), raw=d)


def path(name: str, pk: int) -> str:
    return reverse(name, args=[pk])


def link(text: str, href: str) -> Cell:
    return Cell(text, href=href)


def account_link(name: str, pk: int) -> Cell:
    return Cell(name, href=path("crm:account_detail", pk))


def person_link(name: str, pk: int | None, query: str) -> Cell:
    if pk is None:
        return Cell(name)
    return Cell(name, href=f"{path('insights:person', pk)}?{query}")


# --- Performance ------------------------------------------------------------------------------

PERFORMANCE_COLUMNS = [
    Column("Person"), Column("Role", csv_only=True), Column("Deals won", True),
    Column("Value won", True, money=BY_CURRENCY),
    Column("Promises made", True), Column("Kept", True), Column("Broken", True), Column("Reset", True),
    Column("Withdrawn", True), Column("Kept rate", True), Column("Problems traced", True),
    Column("Won deals worked on", True), Column("Problems per won deal", True), Column("Returned by sales", True),
    Column("Rejected by delivery", True), Column("Median days won to accepted", True),
    Column("Median day-30 satisfaction", True), Column("Check-ups on time", True), Column("Check-ups due", True),
]
SHORT_ROLES = {"Pre-sales consultant": "Pre-sales"}


def scorecard_cells(card: s.Scorecard, query: str) -> list[Cell]:
    name = person_link(card.name, card.person_id, query)
    if card.person_id is not None and not card.is_active:
        name.text += " (left)"
    name.sub = SHORT_ROLES.get(card.role, card.role)
    return [
        name, Cell(card.role), num(card.deals_won),
        values(card.won_value),
        num(card.promises_made), num(card.promises_kept), num(card.promises_broken), num(card.promises_reset),
        num(card.promises_withdrawn), num(card.kept_rate, "%"), num(card.problems_traced),
        num(card.won_deals_involved), num(card.problems_per_won_deal), num(card.handovers_returned),
        num(card.handovers_rejected), num(card.median_days_won_to_accepted),
        num(card.median_day30_satisfaction, "/5" if card.median_day30_satisfaction is not None else ""),
        num(card.checkups_on_time), num(card.checkups_due),
    ]


def performance_table(perf: s.Performance, query: str) -> Table:
    return Table(
        name="people", title="Scorecards",
        columns=PERFORMANCE_COLUMNS,
        rows=[scorecard_cells(card, query) for card in perf.rows],
        footer=scorecard_cells(perf.total, query) if perf.total else None,
        empty="Nobody to show: no rep or pre-sales consultant in this team, and nothing sold or promised.",
    )


def trend_table(points: list[s.MonthPoint]) -> Table:
    return Table(
        name="trend", title="Month by month",
        columns=[Column("Month"), Column("Deals won", True), Column("Promises made", True), Column("Kept", True),
                 Column("Broken", True), Column("Problems traced", True)],
        rows=[[Cell(p.label, raw=p.month.strftime("%Y-%m")), num(p.deals_won), num(p.promises_made),
               num(p.promises_kept), num(p.promises_broken), num(p.problems_traced)] for p in points],
    )


def person_deals_table(page: s.PersonPage) -> Table:
    return Table(
        name="deals", title="Deals won",
        columns=[Column("Deal"), Column("Account"), Column("Won on"), Column("Value", True, money=ONE_CURRENCY),
                 Column("Sold by"), Column("Part")],
        rows=[[link(d["name"], path("crm:deal_detail", d["id"])),
               account_link(d["account"], d["account_id"]), day(d["closed_at"]),
               Cell(money(d["value"], d["currency"]), amounts={d["currency"]: d["value"]}, numeric=True),
               Cell(d["sold_by"]), Cell("Sold it" if d["part"] == "sold" else "Made a promise")]
              for d in page.deals],
        empty="No deal won in this period.",
    )


def person_promises_table(page: s.PersonPage) -> Table:
    tone = {"kept": "ok", "broken": "danger", "reset": "warn", "withdrawn": "muted", "active": "info"}
    return Table(
        name="promises", title="Promises made",
        columns=[Column("Promise"), Column("Kind"), Column("Deal"), Column("Account"), Column("Sold by"),
                 Column("Made on"), Column("State")],
        rows=[[Cell(p["description"][:140]), Cell(p["kind"]),
               link(p["deal"], path("handover:deal_promises", p["deal_id"])),
               account_link(p["account"], p["account_id"]), Cell(p["sold_by"]), day(p["made_at"]),
               Cell(p["state_label"], tone=tone.get(p["state"], "muted"))]
              for p in page.promises],
        empty="No promise made in this period.",
    )


def person_problems_table(page: s.PersonPage) -> Table:
    return Table(
        name="problems", title="Problems traced to their promises",
        columns=[Column("Problem"), Column("Account"), Column("Category"), Column("Severity"), Column("State"),
                 Column("Raised"), Column("Counted")],
        rows=[[link(p["title"], path("delivery:problem_detail", p["id"])),
               account_link(p["account"], p["account_id"]), Cell(p["category_label"]),
               Cell(Problem.Severity(p["severity"]).label), Cell(Problem.State(p["state"]).label),
               day(p["raised_at"]),
               Cell("Yes" if p["counted"] else "No: customer-side change", raw="yes" if p["counted"] else "no")]
              for p in page.problems],
        empty="No problem traced to their promises in this period.",
    )


# --- Reassignment -----------------------------------------------------------------------------


def owners_table(data: s.Reassignment) -> Table:
    return Table(
        name="owners", title="Accounts per owner",
        columns=[Column("Owner"), Column("Status"), Column("Accounts", True)],
        rows=[[Cell(o.name), Cell("Active" if o.is_active else "Inactive", tone="" if o.is_active else "danger"),
               num(o.accounts)] for o in data.owners],
        footer=[Cell("All owners"), Cell(""), num(sum(o.accounts for o in data.owners))],
        empty="No account yet.",
    )


def orphans_table(data: s.Reassignment) -> Table:
    return Table(
        name="orphans", title="Accounts owned by inactive users",
        columns=[Column("Account"), Column("Owner (inactive)")],
        rows=[[account_link(a.name, a.account_id), Cell(a.owner)] for a in data.orphans],
        empty="None: every account has an active owner.",
        note=_capped(len(data.orphans), data.orphan_count),
    )


def single_threaded_table(data: s.Reassignment) -> Table:
    return Table(
        name="single_threaded", title="Single-threaded customers",
        columns=[Column("Account"), Column("Owner"), Column("Active contacts", True), Column("Vendor people", True)],
        rows=[[account_link(a.name, a.account_id), Cell(a.owner), num(a.contacts), num(a.vendor_people)]
              for a in data.single_threaded],
        empty="None: every customer has more than one contact and more than one person on our side.",
        note=(f"Showing the first {len(data.single_threaded)} of more than {s.COUNT_CAP:,}."
              if data.single_threaded_more else _capped(len(data.single_threaded), data.single_threaded_count)),
    )


def changes_table(data: s.Reassignment) -> Table:
    return Table(
        name="changes", title="Ownership changes",
        columns=[Column("When"), Column("Account"), Column("From"), Column("To"), Column("Reason"), Column("By"),
                 Column("Note")],
        rows=[[when(c.changed_at), account_link(c.account, c.account_id), Cell(c.from_user), Cell(c.to_user),
               Cell(c.reason_label), Cell(c.assigned_by or DASH, raw=c.assigned_by),
               Cell(c.note[:160], raw=c.note)] for c in data.changes],
        empty="No change of owner in this period.",
        note=_capped(len(data.changes), data.change_count),
    )


def _capped(shown: int, total: int) -> str:
    return f"Showing the first {shown} of {total:,}." if total > shown else ""


# --- Risk -------------------------------------------------------------------------------------


def risk_table(data: s.Risk, *, limit: int | None = None) -> Table:
    """The customers in early life, riskiest first: the first `limit` of them (None: all)."""
    def tone(points: int) -> str:
        return "danger" if points >= 6 else "warn" if points >= 3 else "muted"

    return Table(
        name="risk", title="Customers in their first 90 days, riskiest first",
        columns=[Column("Rank", True), Column("Account"), Column("Owner"), Column("Accepted"),
                 Column("Days since", True), Column("Score", True), Column("Why")],
        rows=[[num(i), account_link(r.account, r.account_id), Cell(r.owner), day(r.accepted_at),
               num(r.days_since_acceptance), Cell(str(r.score), raw=r.score, tone=tone(r.score), numeric=True),
               Cell("; ".join(f"{x.label} (+{x.points})" for x in r.reasons) or "nothing to worry about",
                    badges=[(f"{x.label} +{x.points}", tone(x.points)) for x in r.reasons])]
              for i, r in enumerate(data.rows[:limit], start=1)],
        empty="No customer accepted in the last 90 days.",
    )


# --- Delivery ---------------------------------------------------------------------------------


def waiting_table(data: s.DeliveryBoard) -> Table:
    def left(h: s.WaitingHandover) -> Cell:
        if h.hours_left is None:
            return Cell(DASH, raw="")
        if h.hours_left < 0:
            return Cell(f"overdue by {_hours(-h.hours_left)}", raw=h.hours_left, tone="danger")
        return Cell(f"{_hours(h.hours_left)} left", raw=h.hours_left, tone="warn" if h.hours_left < 24 else "ok")

    return Table(
        name="waiting", title="Handovers waiting for delivery",
        columns=[Column("Account"), Column("Deal"), Column("Rep"), Column("Approved"), Column("Deadline"),
                 Column("Time left")],
        rows=[[account_link(h.account, h.account_id),
               link(h.deal, path("handover:handover_detail", h.handover_id)), Cell(h.rep),
               when(h.approved_at), when(h.accept_deadline), left(h)] for h in data.waiting],
        empty="Nothing waiting: every approved handover has been accepted or sent back.",
    )


def _hours(hours: float) -> str:
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.0f} h"


def stages_table(data: s.DeliveryBoard) -> Table:
    return Table(
        name="projects", title="Active projects by current stage",
        columns=[Column("Stage"), Column("Projects", True), Column("Awaiting sign-off", True)],
        rows=[[Cell(f"{r.position}. {r.name}" if r.position else r.name), num(r.projects),
               num(r.awaiting_signoff)] for r in data.projects_by_stage],
        footer=[Cell("All active projects"), num(data.active_projects),
                num(sum(r.awaiting_signoff for r in data.projects_by_stage))],
        empty="No active project.",
    )


def categories_table(data: s.DeliveryBoard) -> Table:
    return Table(
        name="problems", title="Problems raised in the period, by category",
        columns=[Column("Category"), Column("Raised", True), Column("Still open", True), Column("Resolved", True),
                 Column("Median hours to resolve", True)],
        rows=[[Cell(r.label), num(r.raised), num(r.open), num(r.resolved),
               num(r.median_hours_to_resolve)] for r in data.problems_by_category],
        footer=[Cell("All categories"), num(sum(r.raised for r in data.problems_by_category)),
                num(sum(r.open for r in data.problems_by_category)),
                num(sum(r.resolved for r in data.problems_by_category)), Cell("")],
    )


def by_name(tables: Iterable[Table]) -> dict[str, Table]:
    return {t.name: t for t in tables}
