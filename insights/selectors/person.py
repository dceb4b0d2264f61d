"""The person page: one person's scorecard with what it is made of (the deals they sold or made
a promise on, the promises they made and the problems traced to them, in the period) and their
monthly trend."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from crm.models import Deal
from delivery.models import Problem
from handover.models import Promise
from insights.selectors.month_by_month import MonthPoint, trends
from insights.selectors.scorecards import Scorecard, performance
from insights.selectors.shared import LIST_LIMIT, Period, display_name


@dataclass
class PersonPage:
    person: Any
    scorecard: Scorecard
    deals: list[dict[str, Any]]
    promises: list[dict[str, Any]]
    problems: list[dict[str, Any]]
    trend: list[MonthPoint]


def person_page(*, period: Period, viewer: Any, person: Any) -> PersonPage:
    """The scorecard and, in the period, the first LIST_LIMIT of each list behind it."""
    card = performance(period=period, team=None, viewer=viewer, person=person).rows
    scorecard = card[0] if card else Scorecard(person_id=person.pk, name=display_name(person))
    # Deals won in the period that they sold ("sold") or made a promise on ("promise").
    deals = [
        {
            "id": d.pk, "name": d.name, "account_id": d.account_id, "account": d.account.name, "value": d.value,
            "currency": d.currency, "closed_at": d.closed_at, "sold_by": display_name(d.sold_by),
            "part": "sold" if d.sold_by_id == person.pk else "promise",
        }
        for d in Deal.objects.filter(period.q("closed_at"), stage=Deal.Stage.WON)
        .filter(Q(sold_by=person) | Q(promises__made_by=person))
        .distinct()
        .select_related("account", "sold_by")
        .order_by("-closed_at", "-pk")[:LIST_LIMIT]
    ]
    # The promises they made in the period, with their state today.
    promises = [
        {
            "id": p.pk, "description": p.description, "kind": p.get_kind_display(), "state": p.state,
            "state_label": p.get_state_display(), "made_at": p.made_at, "deal_id": p.deal_id, "deal": p.deal.name,
            "account_id": p.account_id, "account": p.account.name, "sold_by": display_name(p.deal.sold_by),
        }
        for p in Promise.objects.filter(period.q("made_at"), made_by=person)
        .select_related("deal__sold_by", "account")
        .order_by("-made_at", "-pk")[:LIST_LIMIT]
    ]
    # Problems raised in the period naming one of their promises; a customer-side change is
    # listed but not counted.
    problems = [
        {
            "id": p.pk, "title": p.title, "category": p.category, "category_label": p.get_category_display(),
            "severity": p.severity, "state": p.state, "raised_at": p.raised_at, "account_id": p.account_id,
            "account": p.account.name, "counted": Promise.broken_by_problem(p.category),
        }
        for p in Problem.objects.filter(period.q("raised_at"), promises__made_by=person)
        .distinct()
        .select_related("account")
        .order_by("-raised_at", "-pk")[:LIST_LIMIT]
    ]
    return PersonPage(
        person=person, scorecard=scorecard, deals=deals, promises=promises, problems=problems,
        trend=trends(period=period, team=None, viewer=viewer, person=person),
    )
