"""A hand-built history for the insights tests, made through the real services at set times
(time_machine), so every dashboard figure has an exact expected value worked out by hand in the
dashboards' tests (tests/test_insights_performance.py, _reassignment, _risk, _delivery), and
the readers of the pages' tables and CSV those tests share.

Period: 1 January to 31 March 2027; "now" is Monday 1 March 2027, 12:00 UTC.

- Acme (rep's): promises P1 (rep), P2 (presales, on a deal the rep sells), P3 (rep, withdrawn),
  P4 (rep, later kept), P7 (rep, reset with the customer). Won 10 Jan by rep; the handover is
  returned by sales (11 Jan), rejected by delivery (12 Jan), accepted 15 Jan (5 days after won).
  Check-ups: the rep's thank-you done on time; delivery's confirmation done 27 h late; the day-7
  call left overdue; the training check done; the day-30 review recorded 2/5, then the customer's
  survey says 3/5. Problems: X1 oversold (P2, high, resolved in 48 h), X2 delivery defect (P1 and
  P2, medium, open), X3 customer-side change (P4, low, open), X4 other with no promise (low,
  resolved in 24 h). Stage 1 awaiting sign-off since 20 Feb; Bruno (one of two contacts) left.
- Globex (rep2's): P5 by rep2, won by rep2 on 20 Jan, reassigned to rep on 10 Feb (territory);
  its handover approved on Friday 26 Feb and waiting for delivery (deadline Tuesday 10:00).
- Initech (rep's, one contact): a pilot won 20 Dec 2026 (before the period); an expansion in USD
  with P6 (rep) won 24 Feb, accepted 26 Feb 10:00 (2 days); its first two check-ups are overdue.
- Umbrella: owned by `leaver`, a rep made inactive in the admin without handing over the book.
- rep reports to salesmgr (the "salesmgr's team" filter).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from typing import Any

import time_machine

from crm import roles
from crm import services as crm
from crm.models import UserProfile
from delivery import services as delivery_services
from delivery.models import PlanTemplate, PlanTemplateStage, Problem, Stage
from delivery.plans import create_default_plans
from flows import actions as flows
from handover import services as handover_services
from handover.models import Handover, Promise
from tests.scenarios import accept_deal, approve_deal, make_user
from touchpoints import services as touchpoint_services
from touchpoints.agendas import create_default_agendas
from touchpoints.models import AgendaStep, AgendaTemplate, Touchpoint

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
START, END = date(2027, 1, 1), date(2027, 3, 31)


def at(month: int, day: int, hour: int = 9, minute: int = 0, year: int = 2027) -> Any:
    return time_machine.travel(datetime(year, month, day, hour, minute, tzinfo=UTC), tick=False)


@dataclass
class World:
    rep: Any
    rep2: Any
    presales: Any
    salesmgr: Any
    deliverymgr: Any
    delivery: Any
    leaver: Any
    acme: Any
    globex: Any
    initech: Any
    umbrella: Any
    promises: dict[str, Promise]
    problems: dict[str, Problem]


def _promise(deal: Any, by: Any, text: str) -> Promise:
    return handover_services.promise_record(deal=deal, by=by, kind="deliverable", description=text, source="call")


def _review_all(deal: Any, by: Any, verdict: str) -> None:
    for promise in Promise.objects.filter(deal=deal).exclude(state=Promise.State.WITHDRAWN):
        handover_services.promise_review(promise=promise, by=by, verdict=verdict)


def _fresh(*promises: Promise) -> list[Promise]:
    return list(Promise.objects.filter(pk__in=[p.pk for p in promises]).order_by("pk"))


def _touchpoint(account: Any, kind: str) -> Touchpoint:
    return Touchpoint.objects.get(account=account, kind=kind, follow_up_of__isnull=True)


def build_world(*, rep: Any, rep2: Any, presales: Any, salesmgr: Any, deliverymgr: Any, delivery: Any,
                account: Any, deal: Any, other_account: Any, other_deal: Any) -> World:
    # Transactional tests (the browser's) flush the rows the data migrations made.
    create_default_plans(PlanTemplate, PlanTemplateStage)
    create_default_agendas(AgendaTemplate, AgendaStep)
    acme, globex = account, other_account
    alice = acme.contacts.get(first_name="Alice")
    bruno = acme.contacts.get(first_name="Bruno")
    # The reporting line is an administrator's to set.
    UserProfile.objects.filter(user=rep).update(manager=salesmgr)
    p: dict[str, Promise] = {}
    x: dict[str, Problem] = {}

    # Umbrella, left with a departed rep.
    leaver = make_user("leaver", roles.SALES_REP)
    with at(1, 3):
        umbrella = crm.account_create(by=leaver, name="Umbrella Corp")
    leaver.is_active = False  # switched off in Django's admin, book not handed over
    leaver.save(update_fields=["is_active"])

    # Initech: a pilot won before the period.
    with at(12, 18, year=2026):
        initech = crm.account_create(by=rep, name="Initech")
        crm.contact_create(account=initech, by=rep, first_name="Ivan", last_name="Ito", email="ivan@initech.example")
        pilot = crm.deal_create(account=initech, by=rep, name="Initech pilot", value="1000", currency="EUR")
    with at(12, 20, 10, year=2026):
        flows.deal_win(deal=pilot, by=rep)

    # Acme: five promises, two of them withdrawn or reset before the sale.
    with at(1, 5):
        p["P1"] = _promise(deal, rep, "Two robot arms installed by 1 March")
    with at(1, 6):
        p["P2"] = _promise(deal, presales, "Integrates with the line's PLC")
    with at(1, 7):
        p["P3"] = _promise(deal, rep, "Free spare gripper")
        p["P4"] = _promise(deal, rep, "Operators trained on site")
    with at(1, 8):
        handover_services.promise_withdraw(promise=p["P3"], by=rep, reason="Not in the price list")
        p["P7"] = _promise(deal, rep, "Line running before the spring peak")
    with at(1, 9):
        handover_services.promise_reset(promise=p["P7"], by=rep, expectation="Running by mid-April",
                                        agreed_by=alice, agreed_on=date(2027, 1, 9))
    with at(1, 10, 10):
        flows.deal_win(deal=deal, by=rep)
        handover = Handover.objects.get(deal=deal)
        handover_services.handover_update(
            handover=handover, by=rep, customer_expectations="Line 2 running before the spring peak.",
            meeting_at=datetime(2027, 1, 10, 8, 0, tzinfo=UTC), meeting_held=True,
        )
        handover_services.handover_submit(handover=handover, by=rep)
    with at(1, 11, 10):
        handover_services.handover_return(handover=handover, by=salesmgr, reason="Expectations too vague")
    with at(1, 11, 11):
        handover_services.handover_submit(handover=handover, by=rep)
        _review_all(deal, salesmgr, "ok")
        handover_services.handover_approve(handover=handover, by=salesmgr)
    with at(1, 12, 10):
        handover_services.handover_reject(handover=handover, by=deliverymgr, reason="No meeting minutes")
    with at(1, 12, 11):
        handover_services.handover_submit(handover=handover, by=rep)
        handover_services.handover_approve(handover=handover, by=salesmgr)
    with at(1, 15, 9):
        _review_all(deal, deliverymgr, "feasible")
    with at(1, 15, 10):
        flows.handover_accept(handover=handover, by=deliverymgr, delivery_owner=delivery)

    # Acme's check-ups.
    with at(1, 15, 12):
        touchpoint_services.touchpoint_complete(touchpoint=_touchpoint(acme, "thank_you"), by=rep, satisfaction=5,
                                                as_expected=True)
    with at(1, 17, 12):
        touchpoint_services.touchpoint_complete(touchpoint=_touchpoint(acme, "delivery_confirmation"), by=delivery,
                                                satisfaction=4, as_expected=True)
    with at(1, 29, 10):
        touchpoint_services.touchpoint_complete(touchpoint=_touchpoint(acme, "training_check"), by=delivery,
                                                satisfaction=5, as_expected=True)
    with at(2, 14, 10):
        review = _touchpoint(acme, "review_meeting")
        touchpoint_services.touchpoint_complete(touchpoint=review, by=delivery, satisfaction=2, as_expected=True)
        link, _raw = touchpoint_services.survey_link_issue(review)
    with at(2, 15, 9):
        touchpoint_services.survey_answer(link=link, satisfaction=3, as_expected=True, ip=None, user_agent="test")

    # Acme's promises and problems after acceptance.
    with at(1, 20):
        handover_services.promise_mark_outcome(promise=p["P4"], by=deliverymgr, kept=True)
    with at(2, 1, 10):
        x["X1"] = delivery_services.problem_raise(account=acme, by=delivery, title="PLC link missing",
                                                 category="oversold", severity="high", promises=[p["P2"]])
    with at(2, 2, 10):
        x["X2"] = delivery_services.problem_raise(account=acme, by=delivery, title="Arm 2 misaligned",
                                                 category="delivery_defect", severity="medium",
                                                 promises=_fresh(p["P1"], p["P2"]))
    with at(2, 3, 10):
        delivery_services.problem_resolve(problem=x["X1"], by=delivery, resolution="Gateway installed")
        x["X3"] = delivery_services.problem_raise(account=acme, by=delivery, title="Customer moved the line",
                                                 category="customer_change", severity="low", promises=_fresh(p["P4"]))
    with at(2, 4, 10):
        x["X4"] = delivery_services.problem_raise(account=acme, by=delivery, title="Invoice address wrong",
                                                 category="other", severity="low")
    with at(2, 5, 10):
        delivery_services.problem_resolve(problem=x["X4"], by=delivery, resolution="Corrected")
    kickoff = Stage.objects.get(project__deal=deal, position=1)
    with at(2, 19):
        delivery_services.stage_start(stage=kickoff, by=delivery)
    with at(2, 20, 10):
        delivery_services.stage_request_signoff(stage=kickoff, by=delivery, contact=alice, delivered="Plan agreed")
    with at(2, 25):
        flows.contact_update(contact=bruno, by=salesmgr, is_active=False, left_at=date(2027, 2, 25))

    # Globex: sold by rep2, reassigned to rep mid-period, its handover waiting for delivery.
    with at(1, 18):
        p["P5"] = _promise(other_deal, rep2, "Renewal price held for two years")
    with at(1, 20, 10):
        flows.deal_win(deal=other_deal, by=rep2)
    with at(2, 10, 10):
        flows.account_reassign(account=globex, to_user=rep, by=salesmgr, reason="territory", note="New territories")
    other_deal.refresh_from_db()
    with at(2, 26, 10):
        handover_services.handover_update(handover=Handover.objects.get(deal=other_deal), by=rep,
                                          purchased="Two-year renewal")
        approve_deal(other_deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr)

    # Initech's expansion, in dollars, accepted two days after it was won.
    with at(2, 24, 9):
        expansion = crm.deal_create(account=initech, by=rep, name="Initech expansion", value="5000", currency="USD")
        p["P6"] = _promise(expansion, rep, "Second site live in April")
    with at(2, 24, 10):
        flows.deal_win(deal=expansion, by=rep)
    expansion.refresh_from_db()
    with at(2, 26, 10):
        handover_services.handover_update(handover=Handover.objects.get(deal=expansion), by=rep,
                                          purchased="Second site licence")
        accept_deal(expansion, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)

    for key in list(p):
        p[key].refresh_from_db()
    for obj in (acme, globex, initech, umbrella):
        obj.refresh_from_db()
    return World(rep=rep, rep2=rep2, presales=presales, salesmgr=salesmgr, deliverymgr=deliverymgr,
                 delivery=delivery, leaver=leaver, acme=acme, globex=globex, initech=initech, umbrella=umbrella,
                 promises=p, problems=x)


def now() -> Any:
    return time_machine.travel(NOW, tick=False)



def world_for(request: Any) -> World:
    """The hand-built history on the shared personas, for a test module's `world` fixture."""
    personas = ("rep", "rep2", "presales", "salesmgr", "deliverymgr", "delivery", "account", "deal",
                "other_account", "other_deal")
    return build_world(**{name: request.getfixturevalue(name) for name in personas})


# --- Reading the pages and their CSV -------------------------------------------------------------


class TableParser(HTMLParser):
    """The text of each body row of each `<section id="table-...">` on a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.current: str | None = None
        self.in_body = False
        self.row: list[str] | None = None
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        ident = dict(attrs).get("id") or ""
        if tag == "section" and ident.startswith("table-"):
            self.current = ident.removeprefix("table-")
            self.tables[self.current] = []
        elif tag == "tbody" and self.current:
            self.in_body = True
        elif tag == "tr" and self.in_body:
            self.row = []
        elif tag == "td" and self.row is not None:
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self.cell is not None and self.row is not None:
            self.row.append(" ".join(" ".join(self.cell).split()))
            self.cell = None
        elif tag == "tr" and self.row is not None and self.current:
            self.tables[self.current].append(self.row)
            self.row = None
        elif tag == "tbody":
            self.in_body = False
        elif tag == "section":
            self.current = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def page_tables(response: Any) -> dict[str, list[list[str]]]:
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    parser = TableParser()
    parser.feed(response.content.decode())
    return parser.tables


def csv_rows(response: Any) -> list[list[str]]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.getvalue().decode("utf-8-sig"))))
