"""The bell's API: your notifications (`?unread=1`), marking one or all read, and your email
choices per kind; another's notification answers 404 and stays as it was."""

from __future__ import annotations

import pytest
from django.test import TestCase
from django.utils import timezone
from rest_framework.test import APIClient

from outbox.models import EmailOptOut, Notification
from tests.scenarios import api_for, pile_notifications, submit_deal


@pytest.fixture
def review(deal, rep, salesmgr, mailoutbox) -> Notification:
    with TestCase.captureOnCommitCallbacks(execute=True):
        submit_deal(deal, rep=rep)
    return Notification.objects.get(user=salesmgr)


def test_the_list_holds_ones_own_newest_first_and_filters_unread(review, salesmgr, deliverymgr):
    rows = api_for(salesmgr).get("/api/v1/notifications/").json()["results"]
    assert [row["id"] for row in rows] == [review.pk]
    assert rows[0] | {"created_at": None} == {
        "id": review.pk, "kind": "handover.review_request", "topic": "Handover review requests",
        "title": review.title, "link": review.link, "emailed": True, "created_at": None, "read_at": None,
        "unread": True,
    }
    assert api_for(deliverymgr).get("/api/v1/notifications/").json()["results"] == []
    Notification.objects.filter(pk=review.pk).update(read_at=timezone.now())
    assert api_for(salesmgr).get("/api/v1/notifications/?unread=1").json()["results"] == []
    assert len(api_for(salesmgr).get("/api/v1/notifications/?unread=0").json()["results"]) == 1


def test_a_bad_unread_filter_answers_400_naming_it(salesmgr):
    response = api_for(salesmgr).get("/api/v1/notifications/?unread=maybe")
    assert response.status_code == 400 and "unread" in response.json()


def test_reading_one_marks_it_read_once(review, salesmgr):
    response = api_for(salesmgr).post(f"/api/v1/notifications/{review.pk}/read/")
    assert response.status_code == 200 and response.json()["unread"] is False
    first = Notification.objects.get(pk=review.pk).read_at
    assert first is not None
    api_for(salesmgr).post(f"/api/v1/notifications/{review.pk}/read/")
    assert Notification.objects.get(pk=review.pk).read_at == first


@pytest.mark.parametrize("pk", ["mine-not", "0", "99999999999999999999999"])
def test_someone_elses_or_a_missing_notification_answers_404_and_stays_unread(review, deliverymgr, rep, pk):
    target = review.pk if pk == "mine-not" else pk
    for user in (deliverymgr, rep):
        assert api_for(user).post(f"/api/v1/notifications/{target}/read/").status_code == 404
    assert Notification.objects.get(pk=review.pk).read_at is None


def test_read_all_marks_only_ones_own(review, salesmgr, rep):
    assert api_for(rep).post("/api/v1/notifications/read-all/").json() == {"marked": 0}
    assert Notification.objects.get(pk=review.pk).read_at is None
    assert api_for(salesmgr).post("/api/v1/notifications/read-all/").json() == {"marked": 1}
    assert Notification.objects.get(pk=review.pk).read_at is not None


def test_anonymous_gets_401(review):
    client = APIClient()
    assert client.get("/api/v1/notifications/").status_code == 401
    assert client.post(f"/api/v1/notifications/{review.pk}/read/").status_code == 401
    assert client.put("/api/v1/notifications/preferences/", {"email": {}}, format="json").status_code == 401


def test_the_preferences_default_to_email_on_and_round_trip(rep):
    client = api_for(rep)
    body = client.get("/api/v1/notifications/preferences/").json()
    assert set(body["email"].values()) == {True} and body["topics"][0]["name"] == "Handover review requests"
    changed = client.put("/api/v1/notifications/preferences/", {"email": {"digest": False}}, format="json")
    assert changed.status_code == 200 and changed.json()["email"]["digest"] is False
    assert changed.json()["email"]["reminders"] is True
    [row] = EmailOptOut.objects.filter(user=rep)
    again = client.put("/api/v1/notifications/preferences/", {"email": changed.json()["email"]}, format="json")
    assert again.json() == changed.json() and list(EmailOptOut.objects.filter(user=rep)) == [row]


@pytest.mark.parametrize("body", [
    {"email": {"digest": False, "gossip": False}},
    {"email": {"digest": "perhaps"}},
    {"email": ["digest"]},
    {},
])
def test_bad_preferences_answer_400_naming_the_field_and_save_nothing(rep, body):
    response = api_for(rep).put("/api/v1/notifications/preferences/", body, format="json")
    assert response.status_code == 400 and "email" in response.json()
    assert not EmailOptOut.objects.exists()


def test_the_list_costs_the_same_whatever_the_rows(salesmgr, django_assert_max_num_queries):
    pile_notifications(salesmgr, 120)
    with django_assert_max_num_queries(4):
        response = api_for(salesmgr).get("/api/v1/notifications/")
    assert len(response.json()["results"]) == 50
