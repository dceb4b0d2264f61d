"""The customer answers a survey: what is recorded, what follows, and what the customer sees."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from crm.models import Account, Activity
from customer_links.models import CustomerLink
from delivery.models import Problem
from tests.scenarios import (
    HAPPY,
    LOW,
    assert_customer_headers,
    body,
    landed,
    make_due,
    survey_url,
)
from tests.scenarios import survey_world as world
from touchpoints import services
from touchpoints.models import SurveyResponse, Touchpoint

# --- Answering ----------------------------------------------------------------------------------


def test_a_low_score_is_recorded_once_opens_a_problem_and_alerts_the_owner_and_managers_at_once(
    project, checkup, survey_link, mailoutbox, django_capture_on_commit_callbacks, delivery, deliverymgr, salesmgr
):
    link, path = survey_link
    client = landed(path)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(survey_url(checkup), LOW, REMOTE_ADDR="198.51.100.23",
                               HTTP_USER_AGENT="Mozilla/5.0 (Customer laptop)")
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(survey_url(checkup), {**LOW, "satisfaction": "2"})

    assert response.status_code == 302 and response["Location"] == survey_url(checkup)
    answer = SurveyResponse.objects.get()
    assert (answer.satisfaction, answer.as_expected, answer.comment, answer.link_id) == (
        1, False, "The robots stopped twice this week.", link.pk)
    assert (answer.ip_address, answer.user_agent, answer.contact.first_name) == (
        "198.51.100.23", "Mozilla/5.0 (Customer laptop)", "Alice")
    problem = Problem.objects.get()
    assert answer.problem == problem
    assert (problem.source, problem.account_id, problem.project_id, problem.severity) == (
        "checkup", project.account_id, project.pk, "high")
    assert CustomerLink.objects.get(pk=link.pk).used_at is not None
    event = Activity.objects.get(event_type="touchpoints.survey_answered")
    assert event.actor is None and "customer via link" in event.actor_label and event.ip_address == "198.51.100.23"
    # The alert went out with the answer (not at the next tick), once, to the owner and the managers.
    [alert] = mailoutbox
    assert sorted(alert.to) == sorted([delivery.email, deliverymgr.email, salesmgr.email])
    assert "scored 1/5" in alert.subject and "The robots stopped" in alert.body
    # The second POST: 409, nothing more.
    assert again.status_code == 409 and "already been answered" in body(again)
    assert SurveyResponse.objects.count() == 1 and Problem.objects.count() == 1 and len(mailoutbox) == 1
    assert Activity.objects.filter(event_type="touchpoints.survey_answered").count() == 1
    answered = client.get(survey_url(checkup))
    assert answered.status_code == 200 and "Someone will get in touch" in body(answered)


@pytest.mark.parametrize(
    ("answer", "severity"),
    [({"satisfaction": "4", "as_expected": "no"}, "medium"),
     ({"satisfaction": "4", "as_expected": "yes", "comment": "Invoice was wrong.", "is_complaint": "on"}, "high"),
     ({"satisfaction": "2", "as_expected": "yes"}, "high")],
    ids=["not as expected", "complaint", "score of 2"],
)
def test_each_alarming_answer_opens_a_problem_and_alerts(
    answer, severity, checkup, survey_link, mailoutbox, django_capture_on_commit_callbacks
):
    client = landed(survey_link[1])
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(survey_url(checkup), answer).status_code == 302
    problem = Problem.objects.get()
    assert problem.source == "checkup" and problem.severity == severity
    assert len(mailoutbox) == 1 and mailoutbox[0].subject.startswith("Unhappy customer")


def test_a_happy_answer_opens_no_problem_and_alerts_nobody(
    checkup, survey_link, mailoutbox, django_capture_on_commit_callbacks
):
    client = landed(survey_link[1])
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(survey_url(checkup), HAPPY).status_code == 302
    assert SurveyResponse.objects.get().satisfaction == 5
    assert not Problem.objects.exists() and mailoutbox == []
    thanks = client.get(survey_url(checkup))
    assert "Thank you" in body(thanks) and "Someone will get in touch" not in body(thanks)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"as_expected": "yes"}, "satisfaction", "Choose a score from 1 (very unhappy) to 5 (very happy)."),
        ({"satisfaction": "9", "as_expected": "yes"}, "satisfaction", "Choose a score from 1"),
        ({"satisfaction": "0", "as_expected": "yes"}, "satisfaction", "Choose a score from 1"),
        ({"satisfaction": "three", "as_expected": "yes"}, "satisfaction", "Choose a score from 1"),
        ({"satisfaction": "\u00b2", "as_expected": "yes"}, "satisfaction", "Choose a score from 1"),
        ({"satisfaction": "4"}, "as_expected", "Tell us whether everything was as you expected."),
        ({"satisfaction": "4", "as_expected": "maybe"}, "as_expected", "Tell us whether everything"),
        ({"satisfaction": "3", "as_expected": "yes", "is_complaint": "on"}, "comment",
         "Tell us what the complaint is about."),
        ({"satisfaction": "3", "as_expected": "yes", "comment": "x" * 5001}, "comment", "under 5,000 characters"),
    ],
    ids=["missing score", "score 9", "score 0", "score in words", "superscript two", "missing expected",
         "unknown expected", "complaint without comment", "oversize comment"],
)
def test_bad_input_names_the_field_saves_nothing_and_the_link_still_works(
    data, field, message, checkup, survey_link, mailoutbox, django_capture_on_commit_callbacks
):
    link, path = survey_link
    client = landed(path)
    before = world(mailoutbox)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(survey_url(checkup), data)

    text = body(response)
    assert response.status_code == 400
    assert message in text and "nothing was saved" in text
    assert_customer_headers(response)
    assert world(mailoutbox) == before
    assert CustomerLink.objects.get(pk=link.pk).used_at is None
    # The field with the error is the one marked.
    marked = text.split(message)[0].rsplit("has-error", 1)[1]
    assert f'name="{field}"' in marked
    # The link still works.
    assert client.post(survey_url(checkup), HAPPY).status_code == 302
    assert SurveyResponse.objects.count() == 1


def test_a_csrf_token_is_required_to_answer(checkup, survey_link, mailoutbox):
    client = Client(enforce_csrf_checks=True)
    assert client.get(survey_link[1]).status_code == 302
    before = world(mailoutbox)
    assert client.post(survey_url(checkup), HAPPY).status_code == 403
    assert world(mailoutbox) == before
    assert client.get(survey_url(checkup)).status_code == 200
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    assert client.post(survey_url(checkup), {**HAPPY, "csrfmiddlewaretoken": token}).status_code == 302
    assert SurveyResponse.objects.count() == 1


# --- What the customer sees ----------------------------------------------------------------------


SECRETS = {
    "owner notes": "OWNER-NOTE-7f3a",
    "other outcome": "CONFIRMATION-OUTCOME-91bc",
    "follow-up": "FOLLOW-UP-TITLE-c48d",
    "account notes": "ACCOUNT-NOTE-5d2e",
    "problem": "PROBLEM-TITLE-0a9f",
}


def test_the_survey_shows_nothing_internal(
    project, checkup, delivery, survey_link, mailoutbox, django_capture_on_commit_callbacks
):
    confirmation = Touchpoint.objects.get(account=project.account, kind="delivery_confirmation")
    services.touchpoint_complete(
        touchpoint=confirmation, by=delivery, satisfaction=2, as_expected=False, notes=SECRETS["other outcome"],
        follow_up_at=timezone.now() + timedelta(days=2), follow_up_title=SECRETS["follow-up"],
        problem_title=SECRETS["problem"],
    )
    Touchpoint.objects.filter(pk=checkup.pk).update(notes=SECRETS["owner notes"])
    Account.objects.filter(pk=project.account_id).update(notes=SECRETS["account notes"])
    link, path = survey_link
    client = Client()

    responses = [client.get(path, follow=True), client.post(survey_url(checkup), {"satisfaction": "9"})]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(survey_url(checkup), LOW)
    responses += [client.get(survey_url(checkup)), client.post(survey_url(checkup), LOW)]

    assert [r.status_code for r in responses] == [200, 400, 200, 409]
    for response in responses:
        text = body(response)
        for name, secret in SECRETS.items():
            assert secret not in text, (name, response.status_code)
        assert "2/5" not in text and "Check-up survey:" not in text
    # Nor the survey email the customer got.
    make_due(checkup, django_capture_on_commit_callbacks)
    for message in mailoutbox:
        if "alice@acme.example" in message.to:
            assert not any(secret in message.body for secret in SECRETS.values())
