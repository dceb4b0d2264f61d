"""The customer's check-up survey and the calendar feeds through the browser's eyes: Django's
test Client, no login, only the link from the email or the feed URL (reliability.md 6, 10-13, 19,
25; product.md section 4 "Check-up survey" and "Calendars")."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from icalendar import Calendar

from crm import services as crm_services
from crm.models import Account, Activity
from customer_links import services as links
from customer_links.models import CustomerLink
from customer_links.pages import SESSION_KEY
from delivery import services as delivery_services
from delivery.models import Problem
from flows import actions as flows
from outbox import notices
from outbox.models import Notice
from tests.scenarios import accept_deal, make_user
from touchpoints import services
from touchpoints.models import SurveyResponse, Touchpoint

LOW = {"satisfaction": "1", "as_expected": "no", "comment": "The robots stopped twice this week."}
HAPPY = {"satisfaction": "5", "as_expected": "yes", "comment": ""}


# --- Helpers -------------------------------------------------------------------------------------


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


def survey_emails(mailoutbox: list[Any]) -> list[Any]:
    return [m for m in mailoutbox if "/c/survey/open/" in m.body]


def make_due(touchpoint: Touchpoint, capture: Any) -> None:
    """The dispatcher's tick just after the touchpoint's due time: its survey notice falls due."""
    with capture(execute=True):
        notices.dispatch(now=touchpoint.due_at + timedelta(minutes=1))


def survey_url(touchpoint: Touchpoint) -> str:
    return f"/c/survey/{touchpoint.pk}/"


def landed(path: str, client: Client | None = None) -> Client:
    """A browser that opened the emailed link (and followed nothing yet)."""
    client = client or Client()
    response = client.get(path)
    assert response.status_code == 302, response.status_code
    return client


def body(response: Any) -> str:
    return response.content.decode()


def world(mailoutbox: list[Any]) -> dict[str, Any]:
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


@pytest.fixture
def checkup(project: Any) -> Touchpoint:
    """The day-7 check-up call: it emails Alice (the primary contact) a survey when due."""
    return Touchpoint.objects.get(account=project.account, kind="checkup_call")


@pytest.fixture
def review(project: Any) -> Touchpoint:
    """The day-30 review meeting, the agenda's second survey."""
    return Touchpoint.objects.get(account=project.account, kind="review_meeting")


@pytest.fixture
def survey_link(checkup: Touchpoint, mailoutbox: list[Any], django_capture_on_commit_callbacks: Any
                ) -> tuple[CustomerLink, str]:
    """The survey emailed for the day-7 check-up: its link row and the path Alice got."""
    make_due(checkup, django_capture_on_commit_callbacks)
    path = emailed_path(mailoutbox, "/c/survey/open/")
    link = CustomerLink.objects.get(purpose=CustomerLink.Purpose.SURVEY, token_hash=links.token_hash(raw_of(path)))
    mailoutbox.clear()
    return link, path


# --- The emailed link ----------------------------------------------------------------------------


def test_the_due_check_up_emails_the_primary_contact_a_survey_link_once(
    checkup, mailoutbox, django_capture_on_commit_callbacks
):
    make_due(checkup, django_capture_on_commit_callbacks)
    make_due(checkup, django_capture_on_commit_callbacks)  # a second tick owes nothing more

    [message] = survey_emails(mailoutbox)
    assert message.to == ["alice@acme.example"] and message.subject.startswith("How is it going, Alice?")
    path = emailed_path(mailoutbox, "/c/survey/open/")
    raw = raw_of(path)
    assert len(raw) >= 43  # 256 bits
    link = CustomerLink.objects.get(purpose="survey")
    assert link.target == f"touchpoints.touchpoint:{checkup.pk}" and link.contact.first_name == "Alice"
    assert link.token_hash == links.token_hash(raw) and raw not in str(CustomerLink.objects.values().get())
    assert link.used_at is None and link.emailed_at is not None


def test_the_emailed_survey_link_moves_to_the_session_and_redirects_to_a_clean_url(checkup, survey_link):
    link, path = survey_link
    raw = raw_of(path)
    client = Client()

    response = client.get(path, follow=True)

    assert response.redirect_chain == [(survey_url(checkup), 302)]
    assert response.status_code == 200 and "How is it going, Alice?" in body(response)
    assert raw not in body(response) and raw not in response.request["PATH_INFO"]
    assert client.session[SESSION_KEY] == [link.pk]
    assert raw not in str(dict(client.session.items()))
    answer = client.post(survey_url(checkup), HAPPY, follow=True)
    assert answer.redirect_chain == [(survey_url(checkup), 302)]
    assert raw not in body(answer) and "Thank you" in body(answer)


def test_opening_the_survey_link_again_and_again_changes_nothing(checkup, survey_link, mailoutbox):
    _link, path = survey_link
    before = world(mailoutbox)
    client = Client()
    for _ in range(3):
        assert client.get(path).status_code == 302
        assert client.get(survey_url(checkup)).status_code == 200
        assert Client().get(path).status_code == 302  # a mail scanner: a fresh browser each time
    assert world(mailoutbox) == before


def test_every_survey_page_is_never_cached_and_sends_no_referrer(
    project, checkup, review, survey_link, mailoutbox, django_capture_on_commit_callbacks
):
    link, path = survey_link
    url = survey_url(checkup)
    client = Client()
    signoff_link, signoff_raw = links.link_issue(
        purpose=CustomerLink.Purpose.SIGNOFF, account=project.account, target=project.stages.get(position=1),
        contact=checkup.contact, by=None, valid_for=timedelta(days=14),
    )
    responses = {
        "landing": client.get(path),
        "survey page": client.get(url),
        "missing score": client.post(url, {"as_expected": "yes"}),
        "landing by POST": Client().post(path),
        "page by PUT": client.put(url),
        "invalid link": Client().get("/c/survey/open/not-a-real-token/"),
        "no link in session": Client().get(url),
        "wrong purpose": Client().get(f"/c/survey/open/{signoff_raw}/"),
        "other touchpoint": client.get(survey_url(review)),
    }
    responses["answer"] = client.post(url, HAPPY)
    responses["answered page"] = client.get(url)
    responses["answered again"] = client.post(url, HAPPY)
    expected = {
        "landing": 302, "survey page": 200, "missing score": 400, "landing by POST": 405, "page by PUT": 405,
        "invalid link": 404, "no link in session": 404, "wrong purpose": 400, "other touchpoint": 403,
        "answer": 302, "answered page": 200, "answered again": 409,
    }
    # An expired link's page, and the renewal request from it.
    second, second_raw = services.survey_link_issue(review)
    expire(second)
    landed(f"/c/survey/open/{second_raw}/", client)
    responses["expired"] = client.get(survey_url(review))
    responses["renewal"] = client.post(f"/c/renew/{second.pk}/")
    expected |= {"expired": 410, "renewal": 200}
    for name, response in responses.items():
        assert response.status_code == expected[name], (name, response.status_code)
        assert_customer_headers(response)
    assert signoff_link.used_at is None


# --- Bad links -----------------------------------------------------------------------------------


def tampered(raw: str) -> dict[str, str]:
    flipped = raw[:10] + ("A" if raw[10] != "A" else "B") + raw[11:]
    return {
        "one character changed": flipped,
        "truncated": raw[:-3],
        "random": secrets.token_urlsafe(32),
        "oversize": raw + "x" * 5000,
    }


@pytest.mark.parametrize("kind", ["one character changed", "truncated", "random", "oversize"])
def test_a_tampered_survey_link_shows_a_clear_page_and_changes_nothing(kind, checkup, survey_link, mailoutbox):
    _link, path = survey_link
    bad = tampered(raw_of(path))[kind]
    before = world(mailoutbox)
    client = Client()

    response = client.get(f"/c/survey/open/{bad}/")

    assert response.status_code == 404 and "This link doesn&#x27;t work" in body(response)
    assert_customer_headers(response)
    assert SESSION_KEY not in client.session and "Ask for a new link" not in body(response)
    # Nor can the survey be reached or answered without a link.
    assert client.get(survey_url(checkup)).status_code == 404
    assert client.post(survey_url(checkup), LOW).status_code == 404
    assert world(mailoutbox) == before


def test_an_expired_survey_link_says_so_offers_renewal_and_records_nothing(checkup, survey_link, mailoutbox):
    link, path = survey_link
    expire(link)
    before = world(mailoutbox)
    client = landed(path)

    page = client.get(survey_url(checkup))
    post = client.post(survey_url(checkup), LOW)

    for response in (page, post):
        assert response.status_code == 410 and "This link has expired" in body(response)
        assert f'action="/c/renew/{link.pk}/"' in body(response)
        assert "How satisfied" not in body(response)
        assert_customer_headers(response)
    assert world(mailoutbox) == before


def test_a_revoked_survey_link_says_it_was_replaced_and_the_new_one_works(checkup, survey_link, mailoutbox):
    old, old_path = survey_link
    new, new_raw = services.survey_link_issue(checkup)  # a new link for the same check-up revokes the old
    before = world(mailoutbox)
    client = landed(old_path)

    page = client.get(survey_url(checkup))
    post = client.post(survey_url(checkup), LOW)

    for response in (page, post):
        assert response.status_code == 410 and "This link is no longer valid" in body(response)
    assert world(mailoutbox) == before
    landed(f"/c/survey/open/{new_raw}/", client)
    assert client.post(survey_url(checkup), HAPPY).status_code == 302
    assert SurveyResponse.objects.get().link_id == new.pk


def test_a_contact_who_asks_not_to_be_contacted_loses_the_live_survey_link(checkup, survey_link, mailoutbox, rep):
    _link, path = survey_link
    client = landed(path)
    alice = checkup.account.contacts.get(first_name="Alice")

    flows.contact_update(contact=alice, by=rep, do_not_contact=True, is_primary=False)

    before = world(mailoutbox)
    assert client.get(survey_url(checkup)).status_code == 410
    assert client.post(survey_url(checkup), LOW).status_code == 410
    assert world(mailoutbox) == before and not SurveyResponse.objects.exists()


def test_a_used_survey_link_says_already_answered_and_records_nothing_more(
    checkup, survey_link, mailoutbox, django_capture_on_commit_callbacks
):
    _link, path = survey_link
    client = landed(path)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(survey_url(checkup), LOW).status_code == 302
    assert len(mailoutbox) == 1  # the alert
    before = world(mailoutbox)

    reopened = landed(path)  # the email opened again, in another browser
    page = reopened.get(survey_url(checkup))
    with django_capture_on_commit_callbacks(execute=True):
        post = reopened.post(survey_url(checkup), HAPPY)

    assert page.status_code == 200 and "Thank you" in body(page) and "How satisfied" not in body(page)
    assert post.status_code == 409 and "already been answered" in body(post)
    assert "Ask for a new link" not in body(post)
    assert world(mailoutbox) == before
    assert SurveyResponse.objects.get().satisfaction == 1


def test_a_signoff_link_does_not_open_the_survey_nor_the_reverse(project, checkup, survey_link, mailoutbox):
    signoff, signoff_raw = links.link_issue(
        purpose=CustomerLink.Purpose.SIGNOFF, account=project.account, target=project.stages.get(position=1),
        contact=checkup.contact, by=None, valid_for=timedelta(days=14),
    )
    before = world(mailoutbox)
    for url in (f"/c/survey/open/{signoff_raw}/", f"/c/signoff/open/{raw_of(survey_link[1])}/"):
        client = Client()
        response = client.get(url)
        assert response.status_code == 400 and "This link is for something else" in body(response)
        assert_customer_headers(response)
        assert SESSION_KEY not in client.session
    # A browser holding a sign-off (or portal) link cannot reach or answer the survey.
    signoff_browser = landed(f"/c/signoff/open/{signoff_raw}/")
    assert signoff_browser.get(survey_url(checkup)).status_code == 404
    assert signoff_browser.post(survey_url(checkup), LOW).status_code == 404
    assert world(mailoutbox) == before
    assert CustomerLink.objects.get(pk=signoff.pk).used_at is None


def test_a_survey_link_for_one_check_up_cannot_answer_another(
    checkup, review, mailoutbox, django_capture_on_commit_callbacks
):
    make_due(review, django_capture_on_commit_callbacks)  # both surveys fall due: day 7 and day 30
    assert len(survey_emails(mailoutbox)) == 2
    first = CustomerLink.objects.get(purpose="survey", target=f"touchpoints.touchpoint:{checkup.pk}")
    second = CustomerLink.objects.get(purpose="survey", target=f"touchpoints.touchpoint:{review.pk}")
    day_7_path = next(
        emailed_path([m], "/c/survey/open/") for m in mailoutbox
        if "/c/survey/open/" in m.body and links.token_hash(raw_of(emailed_path([m], "/c/survey/open/")))
        == first.token_hash
    )
    before = world(mailoutbox)
    client = landed(day_7_path)  # holds the day-7 link only

    page = client.get(survey_url(review))
    post = client.post(survey_url(review), LOW)

    for response in (page, post):
        assert response.status_code == 403 and "This link is for a different item" in body(response)
        assert_customer_headers(response)
    assert world(mailoutbox) == before
    assert CustomerLink.objects.get(pk=second.pk).used_at is None
    # A check-up that does not exist looks the same as one the link is not for.
    assert client.get("/c/survey/999999/").status_code == 403


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


# --- Who gets a survey ---------------------------------------------------------------------------


def test_a_do_not_contact_contact_gets_no_survey_email(checkup, rep, mailoutbox, django_capture_on_commit_callbacks):
    alice = checkup.account.contacts.get(first_name="Alice")
    flows.contact_update(contact=alice, by=rep, do_not_contact=True, is_primary=False)

    # Her open check-ups move to the account's other reachable contact, who is surveyed instead.
    checkup.refresh_from_db()
    assert checkup.contact.first_name == "Bruno"
    make_due(checkup, django_capture_on_commit_callbacks)

    assert not [m for m in mailoutbox if "alice@acme.example" in m.to]
    assert [m.to for m in survey_emails(mailoutbox)] == [["bruno@acme.example"]]
    assert not CustomerLink.objects.filter(purpose="survey", contact=alice).exists()


def test_nobody_is_surveyed_when_no_contact_may_be_contacted(
    checkup, rep, mailoutbox, django_capture_on_commit_callbacks
):
    for contact in checkup.account.contacts.all():
        flows.contact_update(contact=contact, by=rep, do_not_contact=True, is_primary=False)
    checkup.refresh_from_db()
    assert checkup.contact is None and not checkup.sends_survey
    make_due(checkup, django_capture_on_commit_callbacks)
    assert survey_emails(mailoutbox) == []
    assert not CustomerLink.objects.filter(purpose="survey").exists()
    assert Notice.objects.get(key=f"touchpoints.survey:{checkup.pk}").state == "skipped"


def test_a_do_not_contact_primary_is_skipped_for_the_next_contact_at_acceptance(
    deal, rep, salesmgr, deliverymgr, delivery, account, mailoutbox, django_capture_on_commit_callbacks
):
    alice = account.contacts.get(first_name="Alice")
    flows.contact_update(contact=alice, by=rep, do_not_contact=True, is_primary=False)
    project = accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)
    checkup = Touchpoint.objects.get(project=project, kind="checkup_call")

    make_due(checkup, django_capture_on_commit_callbacks)

    [message] = survey_emails(mailoutbox)
    assert message.to == ["bruno@acme.example"]
    assert not [m for m in mailoutbox if "alice@acme.example" in m.to]


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


# --- Calendar feeds ------------------------------------------------------------------------------


def parse(response: Any) -> Calendar:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/calendar")
    return Calendar.from_ical(response.content)


def events_of(calendar: Calendar) -> dict[str, Any]:
    return {str(event["uid"]): event for event in calendar.walk("VEVENT")}


def test_a_users_private_feed_parses_with_one_event_per_touchpoint(project, delivery, rep):
    raw = services.calendar_feed_reset(user=delivery)

    response = Client().get(f"/calendar/{raw}.ics")

    calendar = parse(response)
    assert str(calendar["version"]) == "2.0" and calendar["prodid"]
    assert "no-store" in response["Cache-Control"] and response["Referrer-Policy"] in STRICT_REFERRER_POLICIES
    mine = list(Touchpoint.objects.filter(owner=delivery).select_related("account"))
    assert len(mine) == 4  # the rep owns the thank-you note
    events = events_of(calendar)
    host = settings.SITE_URL.split("//", 1)[-1].split("/", 1)[0]
    assert set(events) == {f"touchpoint-{t.pk}@{host}" for t in mine}
    for touchpoint in mine:
        event = events[f"touchpoint-{touchpoint.pk}@{host}"]
        assert event.decoded("dtstart") == touchpoint.due_at
        assert event.decoded("dtend") > touchpoint.due_at
        assert touchpoint.title in str(event["summary"]) and project.account.name in str(event["summary"])
    # The rep's feed holds the rep's touchpoint only.
    rep_events = events_of(parse(Client().get(f"/calendar/{services.calendar_feed_reset(user=rep)}.ics")))
    thank_you = Touchpoint.objects.get(owner=rep)
    assert set(rep_events) == {f"touchpoint-{thank_you.pk}@{host}"}


def test_a_reset_feed_token_makes_the_old_url_404(project, delivery):
    old = services.calendar_feed_reset(user=delivery)
    assert Client().get(f"/calendar/{old}.ics").status_code == 200

    new = services.calendar_feed_reset(user=delivery)

    assert Client().get(f"/calendar/{old}.ics").status_code == 404
    assert Client().get(f"/calendar/{new}.ics").status_code == 200
    services.calendar_feed_revoke(user=delivery)
    assert Client().get(f"/calendar/{new}.ics").status_code == 404


@pytest.mark.parametrize("kind", ["one character changed", "truncated", "random", "oversize"])
def test_a_wrong_feed_token_404s(kind, project, delivery):
    raw = services.calendar_feed_reset(user=delivery)
    response = Client().get(f"/calendar/{tampered(raw)[kind]}.ics")
    assert response.status_code == 404 and b"BEGIN:VCALENDAR" not in response.content


def test_a_deactivated_users_feed_404s(project, delivery):
    raw = services.calendar_feed_reset(user=delivery)
    User.objects.filter(pk=delivery.pk).update(is_active=False)
    response = Client().get(f"/calendar/{raw}.ics")
    assert response.status_code == 404 and b"BEGIN:VCALENDAR" not in response.content


def _portal_browser(project: Any, owner: Any, mailoutbox: list[Any], capture: Any) -> Client:
    alice = project.account.contacts.get(first_name="Alice")
    with capture(execute=True):
        delivery_services.portal_link_issue(account=project.account, by=owner, contact=alice)
    path = emailed_path(mailoutbox, "/c/portal/open/")
    client = Client()
    assert client.get(path, follow=True).status_code == 200
    return client


def test_the_portal_agenda_ics_holds_only_this_accounts_scheduled_check_ups(
    project, delivery, other_account, rep2, salesmgr, deliverymgr, mailoutbox, django_capture_on_commit_callbacks
):
    # Another account's agenda, with internal objectives.
    other_deal = crm_services.deal_create(account=other_account, by=rep2, name="Globex roll-out",
                                          line_items=[{"name": "Licences", "quantity": 5, "unit_price": "100"}])
    accept_deal(other_deal, rep=rep2, salesmgr=salesmgr, deliverymgr=deliverymgr,
                owner=make_user("delivery2", "Delivery team member"))
    Touchpoint.objects.filter(account=other_account).update(objectives="GLOBEX-INTERNAL-OBJECTIVE-42")
    # On this account: one touchpoint done with private notes, one cancelled.
    ours = Touchpoint.objects.filter(account=project.account)
    done = ours.get(kind="delivery_confirmation")
    services.touchpoint_complete(touchpoint=done, by=delivery, satisfaction=3, as_expected=True,
                                 notes="PRIVATE-OUTCOME-NOTE")
    services.touchpoint_cancel(touchpoint=ours.get(kind="training_check"), by=delivery, reason="PRIVATE-REASON")
    client = _portal_browser(project, delivery, mailoutbox, django_capture_on_commit_callbacks)

    response = client.get(f"/c/portal/{project.account_id}/agenda.ics")

    calendar = parse(response)
    assert_customer_headers(response)
    expected = ours.filter(state="scheduled").exclude(kind="renewal")
    assert expected.count() == 3
    events = events_of(calendar)
    assert {uid.split("@")[0] for uid in events} == {f"touchpoint-{t.pk}" for t in expected}
    for touchpoint in expected:
        event = next(e for uid, e in events.items() if uid.startswith(f"touchpoint-{touchpoint.pk}@"))
        assert event.decoded("dtstart") == touchpoint.due_at
        assert touchpoint.get_kind_display() in str(event["summary"])
    text = response.content.decode()
    for secret in ("GLOBEX-INTERNAL-OBJECTIVE-42", "PRIVATE-OUTCOME-NOTE", "PRIVATE-REASON", other_account.name):
        assert secret not in text
    # Without the portal link, or for another account, there is no calendar.
    assert Client().get(f"/c/portal/{project.account_id}/agenda.ics").status_code == 404
    other = client.get(f"/c/portal/{other_account.pk}/agenda.ics")
    assert other.status_code == 403 and b"BEGIN:VCALENDAR" not in other.content
