"""Shared personas (healthchecks' alice/bob/charlie): every access rule is a one-line test.

rep owns `account`; rep2 owns `other_account`; presales is on rep's team; salesmgr and
deliverymgr see everything; delivery is a delivery team member on no account; outsider has a
role but no accounts.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from crm import roles, services
from crm.models import Account, AccountTeamMember


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
