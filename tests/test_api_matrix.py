"""One table: every API operation in the OpenAPI schema x every persona -> the expected status
(reliability.md 4). A new operation that is not in the table fails the first test, so nobody
adds an endpoint without deciding who may call it.

Targets: `account` is rep's (presales on its team), `deal` is on it, `outsider` is the user
deactivated; `promise` is rep's on the deal; `handover` (ready to submit), `submitted` and
`approved` are the deal's handover after winning it; `project` is the deal accepted with the
default plan, owned by `delivery` (so delivery joins the account team), `stage` its first stage,
`started_stage` that stage started, `equipment_stage` the first stage (no customer sign-off)
of the deal accepted with the "Equipment" plan, started; `problem` an open problem on the
project, `resolved_problem` one resolved; all built only for the rows that name them. Each cell runs on a fresh database, so state-changing operations do not interfere.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from typing import Any

import pytest
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from crm.models import Activity
from delivery import services as delivery_services
from delivery.models import PlanTemplate
from flows import actions as flows
from handover import services as handover_services
from handover.models import Handover
from saved_views import services as saved_views
from tests.scenarios import accept_deal, api_for

PERSONAS = ["anonymous", "rep", "presales", "rep2", "delivery", "salesmgr", "deliverymgr", "admin_user"]


@dataclass
class Ctx:
    account: Any
    deal: Any
    rep: Any
    rep2: Any
    delivery: Any
    outsider: Any
    salesmgr: Any
    deliverymgr: Any
    persona: Any

    @property
    def contact(self) -> Any:
        return self.account.contacts.order_by("pk").first()

    @property
    def activity(self) -> Any:
        return Activity.objects.filter(account=self.account).order_by("pk").first()

    @cached_property
    def promise(self) -> Any:
        return handover_services.promise_record(
            deal=self.deal, by=self.rep, kind="deliverable", description="Installed by March", source="call",
        )

    @cached_property
    def handover(self) -> Any:
        flows.deal_win(deal=self.deal, by=self.rep)
        return handover_services.handover_update(
            handover=Handover.objects.get(deal=self.deal), by=self.rep,
            customer_expectations="Running before the peak.", meeting_held=True,
            meeting_at=timezone.now() - timedelta(hours=1),
        )

    @cached_property
    def submitted(self) -> Any:
        return handover_services.handover_submit(handover=self.handover, by=self.rep)

    @cached_property
    def approved(self) -> Any:
        return handover_services.handover_approve(handover=self.submitted, by=self.salesmgr)

    def _accepted(self, plan: str | None = None) -> Any:
        return accept_deal(self.deal, rep=self.rep, salesmgr=self.salesmgr, deliverymgr=self.deliverymgr,
                           owner=self.delivery, plan=plan)

    @cached_property
    def project(self) -> Any:
        return self._accepted()

    @property
    def plan_template(self) -> Any:
        return PlanTemplate.objects.order_by("pk").first()

    @cached_property
    def stage(self) -> Any:
        return self.project.stages.get(position=1)

    @cached_property
    def started_stage(self) -> Any:
        return delivery_services.stage_start(stage=self.stage, by=self.delivery)

    @cached_property
    def equipment_stage(self) -> Any:
        first = self._accepted(plan="Equipment").stages.get(position=1)
        return delivery_services.stage_start(stage=first, by=self.delivery)

    @cached_property
    def problem(self) -> Any:
        return delivery_services.problem_raise(
            account=self.account, by=self.rep, title="Arm 2 missing", category="delivery_defect", severity="high",
            project=self.project,
        )

    @cached_property
    def resolved_problem(self) -> Any:
        return delivery_services.problem_resolve(problem=self.problem, by=self.delivery, resolution="Shipped it.")

    @cached_property
    def checkup(self) -> Any:
        """The project's day-7 check-up call, owned by `delivery` (touchpoints rows)."""
        from touchpoints.models import Touchpoint

        return Touchpoint.objects.get(project=self.project, kind="checkup_call")

    @property
    def agenda(self) -> Any:
        from touchpoints.models import AgendaTemplate

        return AgendaTemplate.objects.order_by("pk").first()

    @cached_property
    def saved_view(self) -> Any:
        """rep's own (unshared) view of the deals list."""
        return saved_views.saved_view_create(by=self.rep, list_name="crm:deal_list", name="Matrix", query="stage=lead")

    @cached_property
    def notification(self) -> Any:
        """A notification in rep's bell: the back notice of their returned handover, sent."""
        from outbox import notices
        from outbox.models import Notice

        handover_services.handover_return(handover=self.submitted, by=self.salesmgr, reason="Vague")
        notice = Notice.objects.get(kind="handover.back_notice")
        notices.deliver(notice.pk)
        return self.rep.notifications.get(notice=notice)

    @cached_property
    def archived_account(self) -> Any:
        from crm import services as crm_services

        return crm_services.account_archive(account=self.account, by=self.rep)

    @cached_property
    def archived_contact(self) -> Any:
        from crm import services as crm_services

        return crm_services.contact_archive(contact=self.contact, by=self.rep)

    def twin_account(self) -> int:
        """A second account to merge into, which only the managers see."""
        from crm import services as crm_services

        return crm_services.account_create(by=self.salesmgr, name="Matrix twin").pk

    def twin_contact(self) -> int:
        from crm import services as crm_services

        return crm_services.contact_create(account=self.account, by=self.rep, first_name="Twin").pk

    @property
    def persona_name(self) -> str:
        return self.persona.get_username() if self.persona is not None else ""


Body = Callable[[Ctx], Any] | None


def _token_body(ctx: Ctx) -> dict[str, str]:
    if ctx.persona is None:
        return {"username": "nobody", "password": "wrong"}
    return {"username": ctx.persona.get_username(), "password": "keepwarm-test-pw"}


# Who:             anon  rep  presales rep2 delivery salesmgr deliverymgr admin
READ_ALL =        (401,  200, 200,     200, 200,     200,     200,        200)
READ_ACCOUNT =    (401,  200, 200,     404, 404,     200,     200,        200)
EDIT_ACCOUNT =    (401,  200, 200,     404, 404,     200,     200,        200)
CREATE_ON_ACCT =  (401,  201, 201,     400, 400,     201,     201,        201)
SELL =            (401,  200, 200,     404, 404,     200,     403,        200)
SELL_CREATE =     (401,  201, 201,     400, 400,     201,     403,        201)
MANAGE_TEAM =     (401,  201, 403,     404, 404,     201,     403,        201)
REASSIGN_ONE =    (401,  403, 403,     404, 404,     200,     403,        200)
REASSIGN_BOOK =   (401,  403, 403,     403, 403,     200,     403,        200)
MANAGE_USERS =    (401,  403, 403,     403, 403,     200,     403,        200)
ADMINISTRATOR =   (401,  403, 403,     403, 403,     403,     403,        200)
CREATE_ACCOUNT =  (401,  201, 201,     201, 403,     201,     403,        201)
TOKEN =           (400,  200, 200,     200, 200,     200,     200,        200)
RECORD_PROMISE =  (401,  201, 201,     400, 403,     403,     403,        403)
EDIT_PROMISE =    (401,  200, 200,     404, 404,     403,     403,        403)
REVIEW =          (401,  403, 403,     404, 404,     200,     200,        403)
RESOLVE_PROMISE = (401,  200, 200,     404, 404,     200,     403,        403)
PREPARE =         (401,  200, 200,     404, 404,     200,     403,        200)
SALES_MANAGER =   (401,  403, 403,     404, 404,     200,     403,        403)
DELIVERY_MANAGER = (401, 403, 403,     404, 404,     403,     200,        403)
# Delivery rows: `delivery` owns the project and so is on the account team.
READ_DELIVERY =   (401,  200, 200,     404, 200,     200,     200,        200)
RUN_DELIVERY =    (401,  403, 403,     404, 200,     403,     200,        200)
RAISE_PROBLEM =   (401,  201, 201,     400, 201,     201,     201,        201)
WORK_PROBLEM =    (401,  403, 403,     404, 200,     403,     200,        200)
PORTAL_REVOKE =   (401,  200, 200,     400, 400,     200,     200,        200)
# Touchpoint rows: the owner (`delivery`) and the managers work it; the rest of the team only reads.
WORK_TOUCHPOINT = (401,  403, 403,     404, 200,     200,     200,        200)
# Insights rows: managers see every dashboard; reps and pre-sales their own scorecard only.
OWN_SCORECARD =   (401,  200, 200,     200, 403,     200,     200,        200)
DASHBOARD =       (401,  403, 403,     403, 403,     200,     200,        200)
# Saved views: anyone signed in saves their own; only the owner (rep) reads an unshared one or changes it.
SAVE_VIEW =       (401,  201, 201,     201, 201,     201,     201,        201)
OWN_VIEW =        (401,  200, 404,     404, 404,     404,     404,        404)
DELETE_OWN_VIEW = (401,  204, 404,     404, 404,     404,     404,        404)
# The bell: each user reaches only their own (the row's notification is rep's).
OWN_NOTIFICATION = (401, 200, 404,     404, 404,     404,     404,        404)
# Merging moves whole histories: the managers who reassign (404 first for what one may not see).
MERGE =           REASSIGN_ONE

MATRIX: dict[tuple[str, str], tuple[str, Body, tuple[int, ...]]] = {
    # (method, path template): (URL with {placeholders} from Ctx, body, expected per persona)
    ("POST", "/api/v1/auth/token/"): ("/api/v1/auth/token/", _token_body, TOKEN),
    ("GET", "/api/v1/accounts/"): ("/api/v1/accounts/", None, READ_ALL),
    ("POST", "/api/v1/accounts/"): ("/api/v1/accounts/", lambda c: {"name": "Matrix Co"}, CREATE_ACCOUNT),
    ("GET", "/api/v1/accounts/{id}/"): ("/api/v1/accounts/{account.pk}/", None, READ_ACCOUNT),
    ("PUT", "/api/v1/accounts/{id}/"): ("/api/v1/accounts/{account.pk}/", lambda c: {"name": "Renamed"}, EDIT_ACCOUNT),
    ("PATCH", "/api/v1/accounts/{id}/"): ("/api/v1/accounts/{account.pk}/", lambda c: {"city": "Nantes"}, EDIT_ACCOUNT),
    ("GET", "/api/v1/accounts/{id}/timeline/"): ("/api/v1/accounts/{account.pk}/timeline/", None, READ_ACCOUNT),
    ("GET", "/api/v1/accounts/{id}/ownership/"): ("/api/v1/accounts/{account.pk}/ownership/", None, READ_ACCOUNT),
    ("GET", "/api/v1/accounts/{id}/team/"): ("/api/v1/accounts/{account.pk}/team/", None, READ_ACCOUNT),
    ("POST", "/api/v1/accounts/{id}/team/"): (
        "/api/v1/accounts/{account.pk}/team/", lambda c: {"user": c.delivery.pk, "role": "support"}, MANAGE_TEAM,
    ),
    ("POST", "/api/v1/accounts/{id}/reassign/"): (
        "/api/v1/accounts/{account.pk}/reassign/", lambda c: {"to_user": c.rep2.pk, "note": "Matrix"}, REASSIGN_ONE,
    ),
    ("GET", "/api/v1/accounts/duplicates/"): ("/api/v1/accounts/duplicates/?name=Acme+Robotics+Ltd", None, READ_ALL),
    ("POST", "/api/v1/accounts/{id}/merge/"): (
        "/api/v1/accounts/{account.pk}/merge/", lambda c: {"into": c.twin_account()}, MERGE,
    ),
    ("POST", "/api/v1/accounts/{id}/archive/"): ("/api/v1/accounts/{account.pk}/archive/", None, EDIT_ACCOUNT),
    ("POST", "/api/v1/accounts/{id}/restore/"): ("/api/v1/accounts/{archived_account.pk}/restore/", None, EDIT_ACCOUNT),
    ("POST", "/api/v1/contacts/{id}/merge/"): (
        "/api/v1/contacts/{contact.pk}/merge/", lambda c: {"into": c.twin_contact()}, MERGE,
    ),
    ("POST", "/api/v1/contacts/{id}/archive/"): ("/api/v1/contacts/{contact.pk}/archive/", None, EDIT_ACCOUNT),
    ("POST", "/api/v1/contacts/{id}/restore/"): ("/api/v1/contacts/{archived_contact.pk}/restore/", None, EDIT_ACCOUNT),
    ("GET", "/api/v1/contacts/"): ("/api/v1/contacts/", None, READ_ALL),
    ("POST", "/api/v1/contacts/"): (
        "/api/v1/contacts/", lambda c: {"account": c.account.pk, "first_name": "Zoe"}, CREATE_ON_ACCT,
    ),
    ("GET", "/api/v1/contacts/{id}/"): ("/api/v1/contacts/{contact.pk}/", None, READ_ACCOUNT),
    ("PUT", "/api/v1/contacts/{id}/"): ("/api/v1/contacts/{contact.pk}/", lambda c: {"first_name": "Zoe"}, EDIT_ACCOUNT),
    ("PATCH", "/api/v1/contacts/{id}/"): ("/api/v1/contacts/{contact.pk}/", lambda c: {"phone": "+33 1"}, EDIT_ACCOUNT),
    ("GET", "/api/v1/deals/"): ("/api/v1/deals/", None, READ_ALL),
    ("POST", "/api/v1/deals/"): ("/api/v1/deals/", lambda c: {"account": c.account.pk, "name": "Matrix deal"}, SELL_CREATE),
    ("GET", "/api/v1/deals/{id}/"): ("/api/v1/deals/{deal.pk}/", None, READ_ACCOUNT),
    ("PUT", "/api/v1/deals/{id}/"): ("/api/v1/deals/{deal.pk}/", lambda c: {"name": "Renamed"}, SELL),
    ("PATCH", "/api/v1/deals/{id}/"): ("/api/v1/deals/{deal.pk}/", lambda c: {"value": "1.00"}, SELL),
    ("POST", "/api/v1/deals/{id}/move/"): ("/api/v1/deals/{deal.pk}/move/", lambda c: {"stage": "proposal"}, SELL),
    ("POST", "/api/v1/deals/{id}/win/"): ("/api/v1/deals/{deal.pk}/win/", None, SELL),
    ("POST", "/api/v1/deals/{id}/lose/"): ("/api/v1/deals/{deal.pk}/lose/", lambda c: {"reason": "Budget"}, SELL),
    # The deal won, its handover a draft: reopening discards the draft.
    ("POST", "/api/v1/deals/{id}/reopen/"): (
        "/api/v1/deals/{handover.deal_id}/reopen/", lambda c: {"to": "negotiation"}, SELL,
    ),
    ("GET", "/api/v1/activities/"): ("/api/v1/activities/", None, READ_ALL),
    ("POST", "/api/v1/activities/"): (
        "/api/v1/activities/", lambda c: {"account": c.account.pk, "kind": "note", "subject": "Hi"}, CREATE_ON_ACCT,
    ),
    ("GET", "/api/v1/activities/{id}/"): ("/api/v1/activities/{activity.pk}/", None, READ_ACCOUNT),
    ("POST", "/api/v1/reassignments/"): (
        "/api/v1/reassignments/", lambda c: {"from_user": c.rep.pk, "to_user": c.rep2.pk, "preview": True}, REASSIGN_BOOK,
    ),
    ("GET", "/api/v1/users/"): ("/api/v1/users/", None, READ_ALL),
    ("POST", "/api/v1/users/{id}/deactivate/"): ("/api/v1/users/{outsider.pk}/deactivate/", lambda c: {}, MANAGE_USERS),
    ("PUT", "/api/v1/users/{id}/manager/"): (
        "/api/v1/users/{rep.pk}/manager/", lambda c: {"manager": c.salesmgr.pk}, ADMINISTRATOR,
    ),
    ("GET", "/api/v1/promises/"): ("/api/v1/promises/", None, READ_ALL),
    ("POST", "/api/v1/promises/"): (
        "/api/v1/promises/",
        lambda c: {"deal": c.deal.pk, "kind": "timeline", "description": "Live in May", "source": "demo"},
        RECORD_PROMISE,
    ),
    ("GET", "/api/v1/promises/{id}/"): ("/api/v1/promises/{promise.pk}/", None, READ_ACCOUNT),
    ("PATCH", "/api/v1/promises/{id}/"): (
        "/api/v1/promises/{promise.pk}/", lambda c: {"description": "Installed by April"}, EDIT_PROMISE,
    ),
    ("POST", "/api/v1/promises/{id}/review/"): (
        "/api/v1/promises/{promise.pk}/review/",
        lambda c: {"verdict": "feasible" if c.persona_name == "deliverymgr" else "ok"},
        REVIEW,
    ),
    ("POST", "/api/v1/promises/{id}/reset/"): (
        "/api/v1/promises/{promise.pk}/reset/",
        lambda c: {"expectation": "April", "agreed_by": c.contact.pk, "agreed_on": str(timezone.localdate())},
        RESOLVE_PROMISE,
    ),
    ("POST", "/api/v1/promises/{id}/withdraw/"): (
        "/api/v1/promises/{promise.pk}/withdraw/", lambda c: {"reason": "Customer dropped it"}, RESOLVE_PROMISE,
    ),
    ("GET", "/api/v1/handovers/"): ("/api/v1/handovers/", None, READ_ALL),
    ("GET", "/api/v1/handovers/{id}/"): ("/api/v1/handovers/{handover.pk}/", None, READ_ACCOUNT),
    ("PATCH", "/api/v1/handovers/{id}/"): ("/api/v1/handovers/{handover.pk}/", lambda c: {"risks": "Tight"}, PREPARE),
    ("GET", "/api/v1/handovers/{id}/events/"): ("/api/v1/handovers/{handover.pk}/events/", None, READ_ACCOUNT),
    ("POST", "/api/v1/handovers/{id}/submit/"): ("/api/v1/handovers/{handover.pk}/submit/", None, PREPARE),
    ("POST", "/api/v1/handovers/{id}/approve/"): ("/api/v1/handovers/{submitted.pk}/approve/", None, SALES_MANAGER),
    ("POST", "/api/v1/handovers/{id}/return/"): (
        "/api/v1/handovers/{submitted.pk}/return/", lambda c: {"reason": "Vague"}, SALES_MANAGER,
    ),
    ("POST", "/api/v1/handovers/{id}/accept/"): (
        "/api/v1/handovers/{approved.pk}/accept/", lambda c: {"delivery_owner": c.delivery.pk}, DELIVERY_MANAGER,
    ),
    ("POST", "/api/v1/handovers/{id}/reject/"): (
        "/api/v1/handovers/{approved.pk}/reject/", lambda c: {"reason": "No meeting notes"}, DELIVERY_MANAGER,
    ),
    ("GET", "/api/v1/plan-templates/"): ("/api/v1/plan-templates/", None, READ_ALL),
    ("GET", "/api/v1/plan-templates/{id}/"): ("/api/v1/plan-templates/{plan_template.pk}/", None, READ_ALL),
    ("GET", "/api/v1/projects/"): ("/api/v1/projects/", None, READ_ALL),
    ("GET", "/api/v1/projects/{id}/"): ("/api/v1/projects/{project.pk}/", None, READ_DELIVERY),
    ("GET", "/api/v1/stages/"): ("/api/v1/stages/", None, READ_ALL),
    ("GET", "/api/v1/stages/{id}/"): ("/api/v1/stages/{stage.pk}/", None, READ_DELIVERY),
    ("PATCH", "/api/v1/stages/{id}/"): (
        "/api/v1/stages/{stage.pk}/", lambda c: {"due_date": "2031-01-15", "description": "Matrix"}, RUN_DELIVERY,
    ),
    ("POST", "/api/v1/stages/{id}/start/"): ("/api/v1/stages/{stage.pk}/start/", None, RUN_DELIVERY),
    ("POST", "/api/v1/stages/{id}/request-signoff/"): (
        "/api/v1/stages/{started_stage.pk}/request-signoff/",
        lambda c: {"contact": c.contact.pk, "delivered": "Kickoff held."},
        RUN_DELIVERY,
    ),
    ("POST", "/api/v1/stages/{id}/complete/"): ("/api/v1/stages/{equipment_stage.pk}/complete/", None, RUN_DELIVERY),
    ("GET", "/api/v1/problems/"): ("/api/v1/problems/", None, READ_ALL),
    ("POST", "/api/v1/problems/"): (
        "/api/v1/problems/",
        lambda c: {"account": c.account.pk, "project": c.project.pk, "title": "Late", "category": "other",
                   "severity": "low"},
        RAISE_PROBLEM,
    ),
    ("GET", "/api/v1/problems/{id}/"): ("/api/v1/problems/{problem.pk}/", None, READ_DELIVERY),
    ("POST", "/api/v1/problems/{id}/resolve/"): (
        "/api/v1/problems/{problem.pk}/resolve/", lambda c: {"resolution": "Fixed"}, WORK_PROBLEM,
    ),
    ("POST", "/api/v1/problems/{id}/close/"): ("/api/v1/problems/{resolved_problem.pk}/close/", None, WORK_PROBLEM),
    ("POST", "/api/v1/problems/{id}/reopen/"): (
        "/api/v1/problems/{resolved_problem.pk}/reopen/", lambda c: {"reason": "Broke again"}, READ_DELIVERY,
    ),
    ("POST", "/api/v1/portal-links/"): (
        "/api/v1/portal-links/", lambda c: {"account": c.account.pk, "contact": c.contact.pk}, CREATE_ON_ACCT,
    ),
    ("POST", "/api/v1/portal-links/revoke/"): (
        "/api/v1/portal-links/revoke/", lambda c: {"account": c.account.pk}, PORTAL_REVOKE,
    ),
    ("GET", "/api/v1/touchpoints/"): ("/api/v1/touchpoints/", None, READ_ALL),
    ("GET", "/api/v1/touchpoints/{id}/"): ("/api/v1/touchpoints/{checkup.pk}/", None, READ_DELIVERY),
    ("POST", "/api/v1/touchpoints/{id}/complete/"): (
        "/api/v1/touchpoints/{checkup.pk}/complete/", lambda c: {"satisfaction": 4, "as_expected": True},
        WORK_TOUCHPOINT,
    ),
    ("POST", "/api/v1/touchpoints/{id}/skip/"): (
        "/api/v1/touchpoints/{checkup.pk}/skip/", lambda c: {"reason": "Covered by the review"}, WORK_TOUCHPOINT,
    ),
    ("POST", "/api/v1/touchpoints/{id}/cancel/"): (
        "/api/v1/touchpoints/{checkup.pk}/cancel/", lambda c: {"reason": "Customer paused"}, WORK_TOUCHPOINT,
    ),
    ("POST", "/api/v1/touchpoints/{id}/reschedule/"): (
        "/api/v1/touchpoints/{checkup.pk}/reschedule/",
        lambda c: {"due_at": (timezone.now() + timedelta(days=3)).isoformat()}, WORK_TOUCHPOINT,
    ),
    ("GET", "/api/v1/agendas/"): ("/api/v1/agendas/", None, READ_ALL),
    ("GET", "/api/v1/agendas/{id}/"): ("/api/v1/agendas/{agenda.pk}/", None, READ_ALL),
    ("GET", "/api/v1/notifications/"): ("/api/v1/notifications/?unread=1", None, READ_ALL),
    ("POST", "/api/v1/notifications/{id}/read/"): (
        "/api/v1/notifications/{notification.pk}/read/", None, OWN_NOTIFICATION,
    ),
    ("POST", "/api/v1/notifications/read-all/"): ("/api/v1/notifications/read-all/", None, READ_ALL),
    ("GET", "/api/v1/notifications/preferences/"): ("/api/v1/notifications/preferences/", None, READ_ALL),
    ("PUT", "/api/v1/notifications/preferences/"): (
        "/api/v1/notifications/preferences/", lambda c: {"email": {"review_requests": False}}, READ_ALL,
    ),
    ("GET", "/api/v1/insights/performance/"): ("/api/v1/insights/performance/", None, OWN_SCORECARD),
    ("GET", "/api/v1/insights/risk/"): ("/api/v1/insights/risk/", None, DASHBOARD),
    ("GET", "/api/v1/insights/reassignment/"): ("/api/v1/insights/reassignment/", None, DASHBOARD),
    ("GET", "/api/v1/insights/delivery/"): ("/api/v1/insights/delivery/", None, DASHBOARD),
    # Everyone signed in searches; what each finds is filtered by visibility (test_search_api.py).
    ("GET", "/api/v1/search/"): ("/api/v1/search/?q=Acme", None, READ_ALL),
    ("GET", "/api/v1/saved-views/"): ("/api/v1/saved-views/", None, READ_ALL),
    ("POST", "/api/v1/saved-views/"): (
        "/api/v1/saved-views/", lambda c: {"list": "crm:deal_list", "name": "Won", "query": "stage=won"}, SAVE_VIEW,
    ),
    ("GET", "/api/v1/saved-views/{id}/"): ("/api/v1/saved-views/{saved_view.pk}/", None, OWN_VIEW),
    ("PUT", "/api/v1/saved-views/{id}/"): ("/api/v1/saved-views/{saved_view.pk}/", lambda c: {"name": "Renamed"}, OWN_VIEW),
    ("PATCH", "/api/v1/saved-views/{id}/"): (
        "/api/v1/saved-views/{saved_view.pk}/", lambda c: {"name": "Renamed"}, OWN_VIEW,
    ),
    ("DELETE", "/api/v1/saved-views/{id}/"): ("/api/v1/saved-views/{saved_view.pk}/", None, DELETE_OWN_VIEW),
}


def _schema_operations() -> set[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }


def test_every_schema_operation_is_in_the_matrix(db):
    operations = _schema_operations()
    missing = sorted(operations - set(MATRIX))
    stale = sorted(set(MATRIX) - operations)
    assert not missing, f"Add these operations to MATRIX with the expected status per persona: {missing}"
    assert not stale, f"These MATRIX rows no longer exist in the schema: {stale}"


def test_every_row_names_every_persona():
    assert all(len(expected) == len(PERSONAS) for _, _, expected in MATRIX.values())


@pytest.mark.parametrize("operation", sorted(MATRIX), ids=lambda op: f"{op[0]} {op[1]}")
@pytest.mark.parametrize("persona", PERSONAS)
def test_role_by_operation(
    request, persona, operation, account, deal, rep, rep2, delivery, outsider, salesmgr, deliverymgr
):
    url_template, body, expected = MATRIX[operation]
    user = None if persona == "anonymous" else request.getfixturevalue(persona)
    ctx = Ctx(account=account, deal=deal, rep=rep, rep2=rep2, delivery=delivery, outsider=outsider,
              salesmgr=salesmgr, deliverymgr=deliverymgr, persona=user)
    # Only the targets this row names are built (a handover needs the deal won, which would
    # change what the deal rows expect).
    names = {field.split(".")[0] for _, field, _, _ in string.Formatter().parse(url_template) if field}
    url = url_template.format(**{name: getattr(ctx, name) for name in names})
    client = APIClient() if user is None else api_for(user)
    method = operation[0].lower()
    response = getattr(client, method)(url, body(ctx) if body else None, format="json")
    want = expected[PERSONAS.index(persona)]
    assert response.status_code == want, f"{persona} {operation[0]} {url}: {response.status_code} {response.content[:300]!r}"
