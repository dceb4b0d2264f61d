"""Builders the tests share: people, logged-in clients, a deal carried to an approved or accepted
handover, and the small checks and runners more than one test module uses, in one section a part
of the product (people and clients; emails and races; API responses; pages; delivery; customer
links; handover; touchpoints).

Fixtures (the personas: rep, rep2, salesmgr, ..., account, deal, project) live in conftest.py and
build with these; a test that needs a scenario the fixtures do not give calls a builder here.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import connection, connections
from django.test import Client, TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from crm import roles
from crm import services as crm_services
from crm.models import Account, Activity, Contact
from customer_links.models import CustomerLink
from delivery import services as delivery_services
from delivery.models import Problem, Project, SignOff, Stage
from flows import actions as flows
from handover import services as handover_services
from handover.models import Handover, Promise
from outbox import notices
from outbox.models import Notice
from touchpoints import services as touchpoint_services
from touchpoints.models import SurveyResponse, Touchpoint

# --- People and clients --------------------------------------------------------------------


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


# --- Emails, the outbox's clock and races -----------------------------------------------


# An HTML entity in a subject or a text part is what a customer would read literally: "Smith
# &amp; Jones". Text is rendered without autoescaping (core.mail); this keeps it so.
HTML_ENTITY = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]*|#[0-9]+|#[xX][0-9A-Fa-f]+);")


def escaped_text_in(subject: str, texts: list[str]) -> list[str]:
    """The HTML entities found in an email's subject and text parts, as "where: entity"."""
    found = [f"subject: {m.group()}" for m in HTML_ENTITY.finditer(subject or "")]
    for text in texts:
        found += [f"text: {m.group()}" for m in HTML_ENTITY.finditer(text or "")]
    return found


# The Monday the 30-day agenda starts from, at 8 in the morning.
MONDAY_8AM = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)


def _dispatch(at: datetime) -> None:
    """One tick of the outbox dispatcher at `at`, running what it schedules on commit."""
    with time_machine.travel(at, tick=False), TestCase.captureOnCommitCallbacks(execute=True):
        notices.dispatch()


def run_together(*actions: Callable[[], Any]) -> list[Any]:
    """Runs the actions in threads released at the same instant; returns each result or error."""
    barrier = threading.Barrier(len(actions))
    results: list[Any] = [None] * len(actions)

    def worker(index: int, action: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = action()
        except Exception as exc:  # the caller inspects what each thread got
            results[index] = exc
        finally:
            connections.close_all()  # this thread's connection, before the test database goes

    threads = [threading.Thread(target=worker, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread is stuck (deadlock?)"
    return results


# --- API responses --------------------------------------------------------------------------

API = "/api/v1"


def _results(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def _ids(response: Any) -> set[int]:
    return {row["id"] for row in _results(response)}


# --- Pages ----------------------------------------------------------------------------------


def crm_url(name: str, *args: Any) -> str:
    return reverse(f"crm:{name}", args=args)


def line_items(*rows: tuple[str, str, str, str]) -> dict[str, str]:
    """The deal form's line-item formset data, one (kind, name, quantity, unit price) a row."""
    data = {"items-TOTAL_FORMS": str(len(rows)), "items-INITIAL_FORMS": "0", "items-MIN_NUM_FORMS": "0", "items-MAX_NUM_FORMS": "50"}
    for i, (kind, name, qty, price) in enumerate(rows):
        data.update({f"items-{i}-kind": kind, f"items-{i}-name": name, f"items-{i}-quantity": qty, f"items-{i}-unit_price": price})
    return data


def errors(response: Any, form: str = "form") -> dict[str, Any]:
    """The errors of the form a page rendered, by field."""
    return dict(response.context[form].errors)


def queries(client: Client, path: str, **params: Any) -> int:
    """How many queries a page takes to render."""
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path, params)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def csv_of(response: Any) -> list[dict[str, str]]:
    """A CSV download's rows, by column label (the file read as a spreadsheet would, BOM aside)."""
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.getvalue().decode("utf-8-sig"))))


def export_queries(client: Client, path: str, **params: Any) -> int:
    """How many queries a CSV download takes, its streamed body included (written after the
    view returns, so counted while it is read)."""
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path, params)
        assert response.status_code == 200
        assert response.streaming
        b"".join(response.streaming_content)
    return len(ctx.captured_queries)


# --- Delivery: projects, stages, sign-off, problems -------------------------------------------


def delivery_url(name: str, *args: Any) -> str:
    return reverse(f"delivery:{name}", args=args)


def stage(project: Project, position: int) -> Stage:
    return project.stages.get(position=position)


def started(project: Project, position: int, by: Any) -> Stage:
    return delivery_services.stage_start(stage=stage(project, position), by=by)


def contact(account: Account, first_name: str) -> Any:
    return account.contacts.get(first_name=first_name)


def alice(project: Project) -> Contact:
    return project.account.contacts.get(first_name="Alice")


def awaiting(project: Project, by: Any) -> tuple[Stage, CustomerLink]:
    """The project's first stage started and sent to Alice for sign-off; returns it and the link."""
    first = started(project, 1, by)
    link = delivery_services.stage_request_signoff(stage=first, by=by, contact=alice(project), delivered="Kickoff held.")
    return Stage.objects.get(pk=first.pk), link


def answer(link: CustomerLink, *, signed_off: bool = True, reason: str = "", name: str = "Alice Martin") -> SignOff:
    """The customer answers a sign-off link, as the signing page does."""
    return flows.customer_answer(
        link=CustomerLink.objects.get(pk=link.pk), signed_off=signed_off, typed_name=name, reason=reason,
        ip="203.0.113.9", user_agent="Mail client",
    )


def their_project(other_account: Any, rep2: Any, salesmgr: Any, deliverymgr: Any) -> Project:
    """A delivery on rep2's account (rep and the delivery team member do not see it)."""
    deal = crm_services.deal_create(account=other_account, by=rep2, name="Globex roll-out",
                                    line_items=[{"name": "Licences", "quantity": 5, "unit_price": "100"}])
    owner = make_user("delivery2", roles.DELIVERY_TEAM)
    return accept_deal(deal, rep=rep2, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=owner)


def promise_of(project: Project) -> Promise:
    return Promise.objects.get(deal=project.deal)


def problem(project: Project, by: Any, **kwargs: Any) -> Problem:
    """A high-severity delivery defect raised on the project."""
    fields = {"title": "Arm 2 missing", "category": "delivery_defect", "severity": "high", "project": project,
              **kwargs}
    return delivery_services.problem_raise(account=project.account, by=by, **fields)


def raise_problem(account: Account, by: User, title: str = "Slow screens", **extra: Any) -> Problem:
    """A low-severity problem of any category on the account."""
    data = {"category": "other", "severity": "low", **extra}
    return delivery_services.problem_raise(account=account, by=by, title=title, **data)


def _events(prefix: str) -> int:
    return Activity.objects.filter(event_type__startswith=prefix).count()


def _raw_token(mailoutbox: Any, marker: str) -> str:
    """The token at the end of the first link in the emails whose address holds `marker`."""
    [url] = [w for m in mailoutbox for w in m.body.split() if marker in w]
    return url.rstrip("/").rsplit("/", 1)[1]


# --- Customer links: what the customer got by email and what a page may change -----------------

SIGNED_OFF = {"typed_name": "Alice Martin", "decision": "sign_off"}
LOW = {"satisfaction": "1", "as_expected": "no", "comment": "The robots stopped twice this week."}
HAPPY = {"satisfaction": "5", "as_expected": "yes", "comment": ""}


def emailed_path(mailoutbox: list[Any], marker: str, to: str | None = None) -> str:
    """The path of the last emailed link containing `marker` (the email holds the full URL)."""
    for message in reversed(mailoutbox):
        if to is not None and message.to != [to]:
            continue
        for word in message.body.split():
            if marker in word:
                assert word.startswith(settings.SITE_URL)
                return word[len(settings.SITE_URL):]
    raise AssertionError(f"no {marker} link in {len(mailoutbox)} email(s)")


def raw_of(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[1]


def landed(path: str, client: Client | None = None) -> Client:
    """A browser that opened the emailed link (and followed nothing yet)."""
    client = client or Client()
    response = client.get(path)
    assert response.status_code == 302, response.status_code
    return client


def body(response: Any) -> str:
    return response.content.decode()


# customer_links.pages sends same-origin (no-referrer makes browsers send "Origin: null" with the
# form's POST, which Django's CSRF check refuses); either way nothing reaches another origin.
STRICT_REFERRER_POLICIES = ("no-referrer", "same-origin")


def assert_customer_headers(response: Any) -> None:
    assert "no-store" in response.get("Cache-Control", ""), (response.status_code, response.get("Cache-Control"))
    assert response.get("Referrer-Policy") in STRICT_REFERRER_POLICIES, (
        response.status_code, response.get("Referrer-Policy"))


def expire(link: CustomerLink) -> None:
    now = timezone.now()
    CustomerLink.objects.filter(pk=link.pk).update(created_at=now - timedelta(days=20),
                                                   expires_at=now - timedelta(seconds=1))


def tampered(raw: str) -> dict[str, str]:
    flipped = raw[:10] + ("A" if raw[10] != "A" else "B") + raw[11:]
    return {
        "one character changed": flipped,
        "truncated": raw[:-3],
        "random": secrets.token_urlsafe(32),
        "oversize": raw + "x" * 5000,
    }


def request_signoff(
    project: Any, position: int, by: Any, mailoutbox: list[Any], capture: Any, contact_name: str = "Alice",
) -> tuple[CustomerLink, str]:
    """Asks for sign-off of stage `position` the way the delivery owner does; returns the link
    and the path the customer got by email."""
    s = stage(project, position)
    if s.state == Stage.State.PLANNED:
        delivery_services.stage_start(stage=s, by=by)
    contact = project.account.contacts.get(first_name=contact_name)
    if contact.role != s.signer_role:
        type(contact).objects.filter(pk=contact.pk).update(role=s.signer_role)
        contact.refresh_from_db()
    with capture(execute=True):
        link = delivery_services.stage_request_signoff(
            stage=s, by=by, contact=contact, delivered="Kickoff held; the plan and the contacts are agreed."
        )
    return link, emailed_path(mailoutbox, "/c/signoff/open/")


def issue_portal(project: Any, by: Any, mailoutbox: list[Any], capture: Any) -> tuple[CustomerLink, str]:
    contact = project.account.contacts.get(first_name="Alice")
    with capture(execute=True):
        link = delivery_services.portal_link_issue(account=project.account, by=by, contact=contact)
    return link, emailed_path(mailoutbox, "/c/portal/open/")


def signoff_url(s: Stage) -> str:
    return f"/c/signoff/{s.pk}/"


def sign(client: Client, url: str, data: dict[str, str], **extra: Any) -> Any:
    """Answers the way a customer does: the form's POST shows the review step, whose confirming
    POST records the answer. A refused first POST (bad input, a bad link) is returned as is."""
    review = client.post(url, data, **extra)
    nonce = review.context.get("review") if review.status_code == 200 and review.context else None
    if not nonce:
        return review
    confirm = {"step": "confirm", "review": nonce}
    if "csrfmiddlewaretoken" in data:
        confirm["csrfmiddlewaretoken"] = data["csrfmiddlewaretoken"]
    return client.post(url, confirm, **extra)


def signoff_world(mailoutbox: list[Any]) -> dict[str, Any]:
    """Everything a customer page could change, to compare before and after."""
    return {
        "stages": list(Stage.objects.order_by("pk").values_list("pk", "state", "signed_off_at", "changes_reason")),
        "links": list(
            CustomerLink.objects.order_by("pk").values_list(
                "pk", "used_at", "revoked_at", "renewal_requested_at", "expires_at"
            )
        ),
        "signoffs": SignOff.objects.count(),
        "notices": list(Notice.objects.order_by("pk").values_list("pk", "state")),
        "events": Activity.objects.count(),
        "emails": len(mailoutbox),
    }


def survey_emails(mailoutbox: list[Any]) -> list[Any]:
    return [m for m in mailoutbox if "/c/survey/open/" in m.body]


def make_due(touchpoint: Touchpoint, capture: Any) -> None:
    """The dispatcher's tick just after the touchpoint's due time: its survey notice falls due."""
    with capture(execute=True):
        notices.dispatch(now=touchpoint.due_at + timedelta(minutes=1))


def survey_url(touchpoint: Touchpoint) -> str:
    return f"/c/survey/{touchpoint.pk}/"


def survey_world(mailoutbox: list[Any]) -> dict[str, Any]:
    """Everything a survey page could change, to compare before and after."""
    return {
        "responses": list(SurveyResponse.objects.order_by("pk").values_list("pk", "satisfaction", "link_id")),
        "problems": Problem.objects.count(),
        "links": list(CustomerLink.objects.order_by("pk").values_list(
            "pk", "used_at", "revoked_at", "renewal_requested_at", "expires_at")),
        "notices": list(Notice.objects.order_by("pk").values_list("pk", "state")),
        "touchpoints": list(Touchpoint.objects.order_by("pk").values_list("pk", "state", "satisfaction", "notes")),
        "events": Activity.objects.count(),
        "emails": len(mailoutbox),
    }


# --- Handover: a deal's promises and its handover walked through the states ------------------

HTMX = {"HTTP_HX_REQUEST": "true"}


def handover_url(name: str, *args: Any) -> str:
    return reverse(f"handover:{name}", args=args)


def record(deal: Any, by: User, description: str = "Two robot arms installed by 1 March") -> Promise:
    return handover_services.promise_record(
        deal=deal, by=by, kind="deliverable", description=description, source="proposal",
        made_to=deal.account.contacts.order_by("pk").first(),
    )


def ready_to_submit(handover: Handover, rep: User) -> Handover:
    return handover_services.handover_update(
        handover=handover,
        by=rep,
        customer_expectations="Line 2 running before the spring peak.",
        meeting_at=timezone.now() - timedelta(hours=2),
        meeting_held=True,
        meeting_minutes="Walked through the plan.",
    )


def submitted(handover: Handover, rep: User) -> Handover:
    ready_to_submit(handover, rep)
    return handover_services.handover_submit(handover=handover, by=rep)


def approved(handover: Handover, rep: User, salesmgr: User) -> Handover:
    submitted(handover, rep)
    for p in Promise.objects.filter(deal=handover.deal):
        handover_services.promise_review(promise=p, by=salesmgr, verdict="ok")
    return handover_services.handover_approve(handover=handover, by=salesmgr)


def feasible(handover: Handover, deliverymgr: User) -> None:
    for p in Promise.objects.filter(deal=handover.deal):
        handover_services.promise_review(promise=p, by=deliverymgr, verdict="feasible")


def handover_state(handover: Handover) -> str:
    return Handover.objects.get(pk=handover.pk).state


def handover_events(deal: Any, event_type: str) -> int:
    return Activity.objects.filter(deal=deal, event_type=event_type).count()


# --- Touchpoints ---------------------------------------------------------------------------

TOUCHPOINT_ACTIONS = ["complete", "skip", "cancel", "reschedule"]
OUTCOME_JSON = {"satisfaction": 4, "as_expected": True, "notes": "Went well."}


def valid_body(action: str) -> dict[str, Any]:
    """A body the API accepts for `action` on an open touchpoint."""
    if action == "complete":
        return dict(OUTCOME_JSON)
    if action == "reschedule":
        return {"due_at": (timezone.now() + timedelta(days=3)).isoformat()}
    return {"reason": "The customer asked to wait."}


def touchpoint_world() -> dict[str, Any]:
    """Everything around the touchpoints an action could write."""
    return {
        "touchpoints": list(Touchpoint.objects.order_by("pk").values_list(
            "pk", "state", "owner_id", "due_at", "version", "closed_at", "satisfaction", "notes", "reason")),
        "events": Activity.objects.count(),
        "problems": Problem.objects.count(),
        "notices": list(Notice.objects.order_by("pk").values_list("pk", "state", "due_at")),
    }


def touchpoints_url(name: str, *args: Any) -> str:
    return reverse(f"touchpoints:{name}", args=args)


def agenda_touchpoint(kind: str = "checkup_call") -> Touchpoint:
    """The one touchpoint of `kind` an agenda step made (the `project` fixture's agenda)."""
    return Touchpoint.objects.select_related("account").get(kind=kind, step__isnull=False)


def touchpoint_due(touchpoint: Touchpoint, when: Any) -> Touchpoint:
    Touchpoint.objects.filter(pk=touchpoint.pk).update(due_at=when)
    touchpoint.refresh_from_db()
    return touchpoint


def fill_every_part_of_the_page(account: Any, *, rep: Any, rep2: Any, delivery: Any, salesmgr: Any) -> None:
    """Something in every part of a customer's account page (the `project` fixture's account):
    a done and an answered check-up, a problem, a portal link, two reassignments, a logged call."""
    done = agenda_touchpoint("delivery_confirmation")
    touchpoint_services.touchpoint_complete(touchpoint=done, by=delivery, satisfaction=2, as_expected=False, notes="Late.")
    answered = agenda_touchpoint()
    touchpoint_services.touchpoint_complete(touchpoint=answered, by=delivery, satisfaction=4, as_expected=True)
    link, _raw = touchpoint_services.survey_link_issue(answered)
    touchpoint_services.survey_answer(link=link, satisfaction=1, as_expected=False, ip=None, user_agent="test")
    delivery_services.problem_raise(account=account, by=rep, title="Slow screens", category="other", severity="high")
    delivery_services.portal_link_issue(account=account, by=delivery, contact=account.contacts.get(first_name="Alice"))
    flows.account_reassign(account=account, to_user=rep2, by=salesmgr, note="Rep moves team.")
    flows.account_reassign(account=account, to_user=rep, by=salesmgr, note="Back.")
    crm_services.activity_log(account=account, by=rep, kind="call", subject="Kick-off", body="Went well.")
