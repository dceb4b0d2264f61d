"""shared from tests/test_delivery_views.py"""
from __future__ import annotations
import re
from datetime import date, timedelta
from typing import Any
import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from crm import roles
from crm import services as crm_services
from crm.models import Account, Activity
from customer_links.models import CustomerLink
from delivery import services
from delivery.models import Problem, Project, SignOff, Stage
from flows import actions as flows
from handover import services as handover_services
from handover.models import Promise
from tests.scenarios import accept_deal, client_for, make_user

def url(name: str, *args: Any) -> str:
    return reverse(f"delivery:{name}", args=args)


def stage(project: Project, position: int) -> Stage:
    return project.stages.get(position=position)


def contact(account: Account, first_name: str) -> Any:
    return account.contacts.get(first_name=first_name)


def queries(client: Client, path: str, **params: Any) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path, params)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def errors(response: Any, form: str = "form") -> dict[str, Any]:
    return dict(response.context[form].errors)


def raise_problem(account: Account, by: User, title: str = "Slow screens", **extra: Any) -> Problem:
    data = {"category": "other", "severity": "low", **extra}
    return services.problem_raise(account=account, by=by, title=title, **data)


@pytest.fixture
def equipment(deal: Any, rep: User, salesmgr: User, deliverymgr: User, delivery: User) -> Project:
    """The "Equipment" plan: its first stage is completed by the delivery owner, no sign-off."""
    return accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery, plan="Equipment")


@pytest.fixture
def theirs(other_deal: Any, rep2: User) -> Promise:
    """A promise made to another account."""
    return handover_services.promise_record(
        deal=other_deal, by=rep2, kind="other", description="Free coffee for a year", source="call"
    )


