"""shared from tests/test_handover_api.py"""
from __future__ import annotations
from datetime import timedelta
from typing import Any
import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from crm import services as crm_services
from crm.models import Account, AccountTeamMember, Activity, Deal
from flows import actions as flows
from handover import services
from handover.models import Handover, Promise, PromiseReview
from tests.scenarios import api_for, make_user

API = "/api/v1"


@pytest.fixture
def promise(deal, rep, account):
    return services.promise_record(
        deal=deal,
        by=rep,
        kind="deliverable",
        description="Two robot arms installed by 1 March",
        source="proposal",
        made_to=account.contacts.get(first_name="Alice"),
    )


@pytest.fixture
def won(deal, rep, promise):
    flows.deal_win(deal=deal, by=rep)
    return Handover.objects.get(deal=deal)


def ready_to_submit(handover, rep):
    return services.handover_update(
        handover=handover,
        by=rep,
        customer_expectations="Line 2 running before the spring peak.",
        meeting_at=timezone.now() - timedelta(hours=2),
        meeting_held=True,
        meeting_minutes="Walked through the plan.",
    )


def submitted(handover, rep):
    ready_to_submit(handover, rep)
    return services.handover_submit(handover=handover, by=rep)


def approved(handover, rep, salesmgr):
    submitted(handover, rep)
    for p in Promise.objects.filter(deal=handover.deal):
        services.promise_review(promise=p, by=salesmgr, verdict="ok")
    return services.handover_approve(handover=handover, by=salesmgr)


def _results(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def _ids(response: Any) -> set[int]:
    return {row["id"] for row in _results(response)}


def _state(handover: Handover) -> str:
    return Handover.objects.get(pk=handover.pk).state


