"""Shared personas (healthchecks' alice/bob/charlie): every access rule is a one-line test.

rep owns `account`; rep2 owns `other_account`; presales is on rep's team; salesmgr and
deliverymgr see everything; delivery is a delivery team member on no account; outsider has a
role but no accounts. The builders they use (make_user, accept_deal, ...) are in
tests/scenarios.py, which tests import directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_string
from email import policy as email_policy
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User

from crm import roles, services
from crm.models import Account, AccountTeamMember
from customer_links import services as links
from customer_links.models import CustomerLink
from flows import actions as flows
from handover import services as handover_services
from handover.models import Handover
from tests.scenarios import (
    accept_deal,
    emailed_path,
    escaped_text_in,
    issue_portal,
    make_due,
    make_user,
    raw_of,
    request_signoff,
)
from touchpoints.models import Touchpoint

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


# --- Delivery ------------------------------------------------------------------------------


@pytest.fixture
def project(deal: Any, rep: User, salesmgr: User, deliverymgr: User, delivery: User) -> Any:
    """rep's deal on `account`, accepted with the default plan ("Software rollout"); `delivery` owns it."""
    return accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)


@pytest.fixture
def equipment(deal: Any, rep: User, salesmgr: User, deliverymgr: User, delivery: User) -> Any:
    """rep's deal accepted with the "Equipment" plan: its first stage is completed by the delivery
    owner, with no customer sign-off."""
    return accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery, plan="Equipment")


@pytest.fixture
def theirs(other_deal: Any, rep2: User) -> Any:
    """A promise made to another account."""
    return handover_services.promise_record(
        deal=other_deal, by=rep2, kind="other", description="Free coffee for a year", source="call"
    )


# --- Handover ------------------------------------------------------------------------------


@pytest.fixture
def promise(deal: Any, rep: User, account: Account) -> Any:
    """rep's promise to Alice on `deal`: two robot arms installed by 1 March."""
    return handover_services.promise_record(
        deal=deal,
        by=rep,
        kind="deliverable",
        description="Two robot arms installed by 1 March",
        source="proposal",
        made_to=account.contacts.get(first_name="Alice"),
    )


@pytest.fixture
def won(deal: Any, rep: User, promise: Any) -> Any:
    """`deal` won, with `promise` on it: its handover, in draft."""
    flows.deal_win(deal=deal, by=rep)
    return Handover.objects.get(deal=deal)


# --- Customer links ------------------------------------------------------------------------


@pytest.fixture
def owner(project: Any) -> Any:
    """The delivery owner, who owns the account once the handover is accepted."""
    return project.owner


@pytest.fixture
def signoff_link(project: Any, owner: Any, mailoutbox: list[Any], django_capture_on_commit_callbacks: Any) -> tuple[Any, str]:
    link, path = request_signoff(project, 1, owner, mailoutbox, django_capture_on_commit_callbacks)
    mailoutbox.clear()
    return link, path


@pytest.fixture
def portal_link(project: Any, owner: Any, mailoutbox: list[Any], django_capture_on_commit_callbacks: Any) -> tuple[Any, str]:
    link, path = issue_portal(project, owner, mailoutbox, django_capture_on_commit_callbacks)
    mailoutbox.clear()
    return link, path


@pytest.fixture
def checkup(project: Any) -> Any:
    """The day-7 check-up call, owned by the delivery owner (`delivery`): it emails Alice (the
    primary contact) a survey when due."""
    return Touchpoint.objects.get(account=project.account, kind="checkup_call")


@pytest.fixture
def review(project: Any) -> Any:
    """The day-30 review meeting, the agenda's second survey."""
    return Touchpoint.objects.get(account=project.account, kind="review_meeting")


@pytest.fixture
def survey_link(checkup: Any, mailoutbox: list[Any], django_capture_on_commit_callbacks: Any) -> tuple[Any, str]:
    """The survey emailed for the day-7 check-up: its link row and the path Alice got."""
    make_due(checkup, django_capture_on_commit_callbacks)
    path = emailed_path(mailoutbox, "/c/survey/open/")
    link = CustomerLink.objects.get(purpose=CustomerLink.Purpose.SURVEY, token_hash=links.token_hash(raw_of(path)))
    mailoutbox.clear()
    return link, path


@pytest.fixture
def thank_you(project: Any) -> Any:
    """The day-0 thank-you note, owned by the rep."""
    return Touchpoint.objects.get(account=project.account, kind="thank_you")
