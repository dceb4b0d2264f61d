"""Shared personas (healthchecks' alice/bob/charlie): every access rule is a one-line test.

rep owns `account`; rep2 owns `other_account`; presales is on rep's team; salesmgr and
deliverymgr see everything; delivery is a delivery team member on no account; outsider has a
role but no accounts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_string
from email import policy as email_policy
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from crm import roles, services
from crm.models import Account, AccountTeamMember
from flows import actions as flows


def make_user(username: str, *role_names: str, **extra: Any) -> User:
    user = User.objects.create_user(
        username=username, password="keepwarm-test-pw", email=f"{username}@vendor.example",
        first_name=username.capitalize(), **extra,
    )
    for name in role_names:
        # get_or_create: transactional tests (browser, concurrency, worker) flush the tables,
        # and with them the roles the data migration made.
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    return user


# Some tests travel to fixed dates: the insights world's quarter (from 18 December 2026), the
# 30-day agenda from Monday 1 March 2027. Their fixtures must be made before those dates, or the
# rows made at the fixed dates come before the fixtures' (an account team that ends before it
# starts), so those modules make them at this moment, whatever the real date.
FIXTURES_MADE_AT = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)


@pytest.fixture
def made_before_the_fixed_dates() -> Iterator[None]:
    """The clock starts at FIXTURES_MADE_AT and runs. Modules ask for it first, with
    `pytest.mark.usefixtures("made_before_the_fixed_dates")`, so it is set before their fixtures."""
    with time_machine.travel(FIXTURES_MADE_AT, tick=True):
        yield


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    """Every test starts with an empty cache (the dashboards' snapshots live there), so no test
    is served figures another test computed."""
    from django.core.cache import cache

    cache.clear()


# An HTML entity in a subject or a text part is what a customer would read literally: "Smith
# &amp; Jones". Text is rendered without autoescaping (core.mail); this keeps it so.
HTML_ENTITY = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]*|#[0-9]+|#[xX][0-9A-Fa-f]+);")


def escaped_text_in(subject: str, texts: list[str]) -> list[str]:
    """The HTML entities found in an email's subject and text parts, as "where: entity"."""
    found = [f"subject: {m.group()}" for m in HTML_ENTITY.finditer(subject or "")]
    for text in texts:
        found += [f"text: {m.group()}" for m in HTML_ENTITY.finditer(text or "")]
    return found


def _sent_in_process() -> list[tuple[str, list[str]]]:
    from django.core import mail

    emails = []
    for message in getattr(mail, "outbox", []):
        texts = [message.body] if getattr(message, "content_subtype", "plain") == "plain" else []
        texts += [content for content, mimetype in getattr(message, "alternatives", []) if mimetype == "text/plain"]
        emails.append((str(message.subject), [str(t) for t in texts]))
    return emails


def _written_to_files(folder: Path) -> list[tuple[str, list[str]]]:
    """Emails a real worker (or server) wrote with the file backend under `folder`."""
    emails = []
    for path in sorted(folder.rglob("*.log")):
        for chunk in path.read_text(errors="replace").split("\n" + "-" * 79 + "\n"):
            if not chunk.strip():
                continue
            parsed = message_from_string(chunk, policy=email_policy.default)
            if parsed["Subject"] is None:
                continue
            texts = [
                part.get_content() for part in parsed.walk()
                if part.get_content_type() == "text/plain" and not part.is_multipart()
            ]
            emails.append((str(parsed["Subject"]), texts))
    return emails


@pytest.fixture(autouse=True)
def emails_read_as_plain_text(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every email a test sends is inspected when it ends: a subject or text part holding an
    HTML entity fails the test, naming the email. Covers the in-process outbox and, for worker
    tests, the files their processes wrote under the test's tmp_path."""
    # Asked for now: this fixture is torn down after tmp_path (the folder itself stays).
    folder = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    yield
    emails = _sent_in_process()
    if folder is not None:
        emails += _written_to_files(folder)
    problems = [f"{subject!r}: {', '.join(found)}" for subject, texts in emails
                if (found := escaped_text_in(subject, texts))]
    if problems:
        pytest.fail("HTML-escaped text in an email (customers would read the entity):\n" + "\n".join(problems))


@pytest.fixture(autouse=True)
def default_reference_data(request: pytest.FixtureRequest) -> None:
    """The delivery plans and check-up agendas the data migrations make. Transactional tests
    (browser, concurrency, worker) flush every table when they end, so whatever runs after them
    gets them back here; for the other tests this finds them and changes nothing."""
    names = set(request.fixturenames)
    if "transactional_db" in names or "live_server" in names:
        request.getfixturevalue("transactional_db")
    elif "db" in names or request.node.get_closest_marker("django_db"):
        request.getfixturevalue("db")
    else:
        return
    from delivery.models import PlanTemplate, PlanTemplateStage
    from delivery.plans import create_default_plans
    from touchpoints.agendas import create_default_agendas
    from touchpoints.models import AgendaStep, AgendaTemplate

    create_default_plans(PlanTemplate, PlanTemplateStage)
    create_default_agendas(AgendaTemplate, AgendaStep)


@pytest.fixture
def rep(db: Any) -> User:
    return make_user("rep", roles.SALES_REP)


@pytest.fixture
def rep2(db: Any) -> User:
    return make_user("rep2", roles.SALES_REP)


@pytest.fixture
def presales(db: Any) -> User:
    return make_user("presales", roles.PRESALES)


@pytest.fixture
def salesmgr(db: Any) -> User:
    return make_user("salesmgr", roles.SALES_MANAGER)


@pytest.fixture
def deliverymgr(db: Any) -> User:
    return make_user("deliverymgr", roles.DELIVERY_MANAGER)


@pytest.fixture
def delivery(db: Any) -> User:
    return make_user("delivery", roles.DELIVERY_TEAM)


@pytest.fixture
def admin_user(db: Any) -> User:
    return make_user("administrator", roles.ADMINISTRATOR)


@pytest.fixture
def outsider(db: Any) -> User:
    return make_user("outsider", roles.SALES_REP)


@pytest.fixture
def account(rep: User, presales: User) -> Account:
    acc = services.account_create(by=rep, name="Acme Robotics", city="Lyon", industry="Manufacturing")
    services.contact_create(account=acc, by=rep, first_name="Alice", last_name="Martin", email="alice@acme.example", role="decision_maker")
    services.contact_create(account=acc, by=rep, first_name="Bruno", last_name="Petit", email="bruno@acme.example", role="technical")
    AccountTeamMember.objects.create(account=acc, user=presales, role=AccountTeamMember.Role.PRESALES)
    return acc


@pytest.fixture
def other_account(rep2: User) -> Account:
    acc = services.account_create(by=rep2, name="Globex", city="Berlin")
    services.contact_create(account=acc, by=rep2, first_name="Greta", last_name="Klein", email="greta@globex.example")
    return acc


@pytest.fixture
def deal(account: Account, rep: User) -> Any:
    return services.deal_create(
        account=account, by=rep, name="Acme line 2", value="48000.00", currency="EUR",
        line_items=[{"kind": "product", "name": "Robot arm", "quantity": 2, "unit_price": "20000"},
                    {"kind": "service", "name": "Installation", "quantity": 1, "unit_price": "8000"}],
    )


@pytest.fixture
def other_deal(other_account: Account, rep2: User) -> Any:
    return services.deal_create(account=other_account, by=rep2, name="Globex renewal", value="9000")


def client_for(user: User | None) -> Any:
    from django.test import Client

    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def api_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


# --- Delivery: a deal carried through its handover to an accepted delivery project -----------


def approve_deal(deal: Any, *, rep: User, salesmgr: User, deliverymgr: User) -> Any:
    """Wins `deal` (if open), records one promise, and walks its handover to approved by sales
    and found feasible by delivery; returns the handover, ready to accept."""
    from datetime import timedelta

    from django.utils import timezone

    from delivery.models import PlanTemplate, PlanTemplateStage
    from delivery.plans import create_default_plans
    from handover import services as handover_services
    from handover.models import Handover, Promise

    create_default_plans(PlanTemplate, PlanTemplateStage)  # transactional tests flush the migration's rows
    if not Promise.objects.filter(deal=deal).exists():
        handover_services.promise_record(
            deal=deal, by=rep, kind="deliverable", description="Two robot arms installed by 1 March",
            source="proposal", made_to=deal.account.contacts.order_by("pk").first(),
        )
    if deal.stage != "won":
        flows.deal_win(deal=deal, by=rep)
    handover = Handover.objects.get(deal=deal)
    handover_services.handover_update(
        handover=handover, by=rep, customer_expectations="Line 2 running before the spring peak.",
        meeting_at=timezone.now() - timedelta(hours=2), meeting_held=True, meeting_minutes="Walked through it.",
    )
    handover_services.handover_submit(handover=handover, by=rep)
    for promise in Promise.objects.filter(deal=deal):
        handover_services.promise_review(promise=promise, by=salesmgr, verdict="ok")
    handover_services.handover_approve(handover=handover, by=salesmgr)
    for promise in Promise.objects.filter(deal=deal):
        handover_services.promise_review(promise=promise, by=deliverymgr, verdict="feasible")
    return handover


def accept_deal(deal: Any, *, rep: User, salesmgr: User, deliverymgr: User, owner: User, plan: str | None = None) -> Any:
    """`approve_deal`, then accepted with `plan` (default: the configured one); returns the
    delivery project that acceptance started."""
    from delivery.models import PlanTemplate

    handover = approve_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr)
    options = {"plan_template": PlanTemplate.objects.get(name=plan).pk} if plan else {}
    flows.handover_accept(handover=handover, by=deliverymgr, delivery_owner=owner, options=options)
    return handover.project


@pytest.fixture
def project(deal: Any, rep: User, salesmgr: User, deliverymgr: User, delivery: User) -> Any:
    """rep's deal on `account`, accepted with the default plan ("Software rollout"); `delivery` owns it."""
    return accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)
