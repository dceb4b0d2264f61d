"""Every word reads right: counts say "1 account" and "2 accounts" (never "account(s)"), a name
ending in s takes the apostrophe alone ("Northwind Analytics' book"), and the managers' work
lists say how many handovers wait, in the navigation and in the heading, kept current in place."""

from __future__ import annotations

import io
import re
import tokenize
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.wording import possessive
from crm import services as crm_services
from crm.models import Account
from delivery.events import completed_subject
from flows import actions as flows
from handover import services
from handover.models import Handover, Promise
from handover.templatetags.handover_ui import handover_nav
from tests.scenarios import client_for
from touchpoints.events import scheduled_subject

ROOT = Path(__file__).resolve().parents[1]
APPS = ["config", "crm", "handover", "delivery", "touchpoints", "insights", "search"]
HTMX = {"HTTP_HX_REQUEST": "true"}


# --- The possessive -------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "written"), [
    ("Northwind Analytics", "Northwind Analytics'"),
    ("James", "James'"),
    ("Acme", "Acme's"),
    ("Alice Martin", "Alice Martin's"),
    ("", ""),
])
def test_a_name_ending_in_s_takes_the_apostrophe_alone(name: str, written: str) -> None:
    assert possessive(name) == written


def test_the_possessive_filter_escapes_the_name_like_any_other() -> None:
    html = Template("{% load crm_ui %}{{ name|possessive }} book").render(Context({"name": "<b>Bros"}))
    assert html == "&lt;b&gt;Bros&#x27; book"


def test_my_week_of_a_person_whose_name_ends_in_s_says_their_week(salesmgr: User, rep: User) -> None:
    rep.first_name, rep.last_name = "James", "Jones"
    rep.save()
    html = client_for(salesmgr).get(reverse("touchpoints:my_week"), {"user": rep.pk}).content.decode()
    assert "James Jones&#x27; week" in html and "Jones&#x27;s" not in html


# --- Counts on the pages and in the messages -----------------------------------------------


@pytest.mark.parametrize(("count", "says"), [
    (0, "0 accounts match your filters."),
    (1, "1 account matches your filters."),
    (2, "2 accounts match your filters."),
])
def test_the_accounts_list_counts_its_matches(salesmgr: User, rep: User, count: int, says: str) -> None:
    for i in range(count):
        crm_services.account_create(by=rep, name=f"Northwind {i}")
    crm_services.account_create(by=rep, name="Globex")
    html = client_for(salesmgr).get(reverse("crm:account_list"), {"q": "Northwind"}).content.decode()
    assert says in html


@pytest.mark.parametrize(("count", "says"), [
    (1, "Moved 1 account from Rep to Rep2; 0 open deals went with them."),
    (2, "Moved 2 accounts from Rep to Rep2; 0 open deals went with them."),
])
def test_a_book_reassignment_says_how_many_accounts_moved(
    salesmgr: User, rep: User, rep2: User, count: int, says: str,
) -> None:
    for i in range(count):
        crm_services.account_create(by=rep, name=f"Northwind {i}")
    form = {"from_user": rep.pk, "to_user": rep2.pk, "reason": "departure", "note": "", "confirm": "1"}
    response = client_for(salesmgr).post(reverse("crm:book_reassign"), form, follow=True)
    assert [str(m) for m in response.context["messages"]] == [says]
    assert Account.objects.filter(owner=rep2).count() == count


@pytest.mark.parametrize(("count", "says"), [
    (1, ['account moves</span>', 'open deal moves</span>', "Reassign 1 account</button>"]),
    (2, ['accounts move</span>', 'open deals move</span>', "Reassign 2 accounts</button>"]),
])
def test_the_book_reassignment_preview_counts_what_moves(
    salesmgr: User, rep: User, rep2: User, count: int, says: list[str],
) -> None:
    for i in range(count):
        account = crm_services.account_create(by=rep, name=f"Northwind {i}")
        crm_services.deal_create(account=account, by=rep, name=f"Northwind line {i}", value="1000")
    form = {"from_user": rep.pk, "to_user": rep2.pk, "reason": "departure", "note": ""}
    html = client_for(salesmgr).post(reverse("crm:book_reassign"), form).content.decode()
    for words in says:
        assert words in html


@pytest.mark.parametrize(("count", "says"), [
    (0, "0 check-ups scheduled from acceptance"),
    (1, "1 check-up scheduled from acceptance"),
    (2, "2 check-ups scheduled from acceptance"),
])
def test_the_timeline_counts_the_check_ups_it_scheduled(count: int, says: str) -> None:
    assert scheduled_subject(count, "acceptance") == says


@pytest.mark.parametrize(("count", "says"), [
    (0, "Delivery of Line 2 complete; 0 promises marked kept"),
    (1, "Delivery of Line 2 complete; 1 promise marked kept"),
    (2, "Delivery of Line 2 complete; 2 promises marked kept"),
])
def test_the_timeline_counts_the_promises_a_delivery_kept(count: int, says: str) -> None:
    assert completed_subject("Line 2", count) == says


# --- The review queue and the acceptance inbox say how many wait --------------------------


def submit_handovers(count: int, *, rep: User) -> list[Handover]:
    handovers = []
    for i in range(count):
        account = crm_services.account_create(by=rep, name=f"Northwind {i}")
        crm_services.contact_create(account=account, by=rep, first_name="Alice", last_name="Martin",
                                    email=f"alice{i}@northwind.example", role="decision_maker")
        deal = crm_services.deal_create(
            account=account, by=rep, name=f"Northwind line {i}", value="1000",
            line_items=[{"kind": "product", "name": "Robot arm", "quantity": 1, "unit_price": "1000"}],
        )
        for text in ("Two robot arms installed", "A technician on site"):
            services.promise_record(deal=deal, by=rep, kind="deliverable", description=text, source="proposal")
        flows.deal_win(deal=deal, by=rep)
        handover = Handover.objects.get(deal=deal)
        services.handover_update(
            handover=handover, by=rep, customer_expectations="Live before spring.",
            meeting_at=timezone.now() - timedelta(hours=2), meeting_held=True, meeting_minutes="Walked through it.",
        )
        services.handover_submit(handover=handover, by=rep)
        handovers.append(handover)
    return handovers


@pytest.mark.parametrize(("count", "heading", "nav"), [
    (0, "No submitted handover waits for review.", None),
    (1, "1 submitted handover, oldest first.", "1 handover to review"),
    (2, "2 submitted handovers, oldest first.", "2 handovers to review"),
])
def test_the_review_queue_says_how_many_handovers_wait(
    salesmgr: User, rep: User, count: int, heading: str, nav: str | None,
) -> None:
    submit_handovers(count, rep=rep)
    html = client_for(salesmgr).get(reverse("handover:review_queue")).content.decode()
    assert heading in html
    if nav:
        assert f'<span class="nav-count" aria-hidden="true">{count}</span><span class="sr-only">: {nav}</span>' in html
    else:
        assert "nav-count" not in html


def test_the_acceptance_inbox_says_how_many_handovers_wait(
    salesmgr: User, deliverymgr: User, rep: User,
) -> None:
    (handover,) = submit_handovers(1, rep=rep)
    for promise in Promise.objects.filter(deal=handover.deal):
        services.promise_review(promise=promise, by=salesmgr, verdict="ok")
    services.handover_approve(handover=handover, by=salesmgr)
    html = client_for(deliverymgr).get(reverse("handover:inbox")).content.decode()
    assert "1 handover approved by sales, most urgent first." in html
    assert "1 handover to accept" in html
    assert "0 of 2 promises checked" in html


def test_the_navigation_counts_with_one_query_and_only_for_managers(salesmgr: User, rep: User) -> None:
    submit_handovers(2, rep=rep)
    salesmgr = User.objects.get(pk=salesmgr.pk)
    rep = User.objects.get(pk=rep.pk)
    handover_nav(salesmgr), handover_nav(rep)  # roles are cached on the user: load them first
    with CaptureQueriesContext(connection) as for_rep:
        assert "to_review" not in handover_nav(rep)
    with CaptureQueriesContext(connection) as for_manager:
        nav = handover_nav(salesmgr)
    assert (nav["to_review"], nav["to_accept"]) == (2, 0)
    assert (len(for_rep), len(for_manager)) == (0, 1)


def test_an_inline_review_on_a_card_sends_the_cards_count_again(salesmgr: User, rep: User) -> None:
    (handover,) = submit_handovers(1, rep=rep)
    first, second = Promise.objects.filter(deal=handover.deal).order_by("pk")
    client = client_for(salesmgr)
    post: dict[str, Any] = {"verdict": "ok", "kind": "sales", "card": str(handover.pk)}
    html = client.post(reverse("handover:promise_review", args=[first.pk]), post, **HTMX).content.decode()
    assert (f'<span class="review-progress" id="review-progress-{handover.pk}" hx-swap-oob="true">'
            "1 of 2 promises reviewed</span>") in html
    html = client.post(reverse("handover:promise_review", args=[second.pk]), post, **HTMX).content.decode()
    assert "2 of 2 promises reviewed" in html
    # Elsewhere (the deal's promise ledger) there is no card: nothing to swap.
    html = client.post(
        reverse("handover:promise_review", args=[second.pk]), {"verdict": "ok", "kind": "sales"}, **HTMX
    ).content.decode()
    assert "hx-swap-oob" not in html


# --- The guard: no "(s)" and no "'s" after a name in what users read -----------------------


def python_strings(path: Path) -> list[tuple[int, str]]:
    """The string literals of a Python file (f-strings' text parts included), with their line."""
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
    return [(t.start[0], t.string) for t in tokens if t.type == tokenize.STRING]


def sources() -> list[Path]:
    return sorted(p for app in APPS for p in (ROOT / app).rglob("*.py") if "migrations" not in p.parts)


def templates() -> list[Path]:
    return sorted(p for p in (ROOT / "templates").rglob("*") if p.suffix in (".html", ".txt"))


HAND_MADE_PLURAL = re.compile(r"[A-Za-z]\(s\)")
POSSESSIVE_AFTER_A_VALUE = re.compile(r"(\}\}|\})'s\b")


def test_no_template_writes_a_hand_made_plural_or_possessive() -> None:
    found = []
    for path in templates():
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if HAND_MADE_PLURAL.search(line) or POSSESSIVE_AFTER_A_VALUE.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == [], "use pluralize / blocktranslate count, and |possessive:\n" + "\n".join(found)


def test_no_python_string_writes_a_hand_made_plural_or_possessive() -> None:
    assert len(sources()) > 50  # the guard looks where the code is
    found = []
    for path in sources():
        if path == ROOT / "crm" / "wording.py":
            continue  # the one place that writes the possessive
        for number, text in python_strings(path):
            if HAND_MADE_PLURAL.search(text) or POSSESSIVE_AFTER_A_VALUE.search(text):
                found.append(f"{path.relative_to(ROOT)}:{number}: {text}")
    assert found == [], "use ngettext, and core.wording.possessive:\n" + "\n".join(found)
