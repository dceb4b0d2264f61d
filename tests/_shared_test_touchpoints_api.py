"""shared from tests/test_touchpoints_api.py"""
from __future__ import annotations
from datetime import timedelta
from typing import Any
import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient
from crm import services as crm_services
from crm.models import Activity
from delivery.models import Problem
from outbox.models import Notice
from tests.scenarios import accept_deal, api_for, make_user
from touchpoints import services
from touchpoints.models import AgendaTemplate, SurveyResponse, Touchpoint

API = "/api/v1"


ACTIONS = ["complete", "skip", "cancel", "reschedule"]


OUTCOME = {"satisfaction": 4, "as_expected": True, "notes": "Went well."}


def valid_body(action: str) -> dict[str, Any]:
    if action == "complete":
        return dict(OUTCOME)
    if action == "reschedule":
        return {"due_at": (timezone.now() + timedelta(days=3)).isoformat()}
    return {"reason": "The customer asked to wait."}


def world() -> dict[str, Any]:
    """Everything around the touchpoints an action could write."""
    return {
        "touchpoints": list(Touchpoint.objects.order_by("pk").values_list(
            "pk", "state", "owner_id", "due_at", "version", "closed_at", "satisfaction", "notes", "reason")),
        "events": Activity.objects.count(),
        "problems": Problem.objects.count(),
        "notices": list(Notice.objects.order_by("pk").values_list("pk", "state", "due_at")),
    }


@pytest.fixture
def checkup(project: Any) -> Touchpoint:
    """The day-7 check-up call, owned by the delivery owner (`delivery`), with a survey."""
    return Touchpoint.objects.get(account=project.account, kind="checkup_call")


@pytest.fixture
def thank_you(project: Any) -> Touchpoint:
    """The day-0 thank-you note, owned by the rep."""
    return Touchpoint.objects.get(account=project.account, kind="thank_you")


