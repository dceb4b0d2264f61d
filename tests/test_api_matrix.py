"""One table: every API operation in the OpenAPI schema x every persona -> the expected status
(reliability.md 4). A new operation that is not in the table fails the first test, so nobody
adds an endpoint without deciding who may call it.

Targets: `account` is rep's (presales on its team), `deal` is on it, `outsider` is the user
deactivated. Each cell runs on a fresh database, so state-changing operations do not interfere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from crm.models import Activity
from tests.conftest import api_for

PERSONAS = ["anonymous", "rep", "presales", "rep2", "delivery", "salesmgr", "deliverymgr", "admin_user"]


@dataclass
class Ctx:
    account: Any
    deal: Any
    rep: Any
    rep2: Any
    delivery: Any
    outsider: Any
    persona: Any

    @property
    def contact(self) -> Any:
        return self.account.contacts.order_by("pk").first()

    @property
    def activity(self) -> Any:
        return Activity.objects.filter(account=self.account).order_by("pk").first()


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
CREATE_ACCOUNT =  (401,  201, 201,     201, 403,     201,     403,        201)
TOKEN =           (400,  200, 200,     200, 200,     200,     200,        200)

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
def test_role_by_operation(request, persona, operation, account, deal, rep, rep2, delivery, outsider):
    url_template, body, expected = MATRIX[operation]
    user = None if persona == "anonymous" else request.getfixturevalue(persona)
    ctx = Ctx(account=account, deal=deal, rep=rep, rep2=rep2, delivery=delivery, outsider=outsider, persona=user)
    url = url_template.format(**{name: getattr(ctx, name) for name in ("account", "deal", "contact", "activity",
                                                                        "outsider")})
    client = APIClient() if user is None else api_for(user)
    method = operation[0].lower()
    response = getattr(client, method)(url, body(ctx) if body else None, format="json")
    want = expected[PERSONAS.index(persona)]
    assert response.status_code == want, f"{persona} {operation[0]} {url}: {response.status_code} {response.content[:300]!r}"
