"""Check-up surveys: the emailed link and who gets a survey."""

from __future__ import annotations

from datetime import timedelta

from django.test import Client

from customer_links import services as links
from customer_links.models import CustomerLink
from customer_links.pages import SESSION_KEY
from flows import actions as flows
from outbox.models import Notice
from tests.scenarios import (
    HAPPY,
    accept_deal,
    assert_customer_headers,
    body,
    emailed_path,
    expire,
    landed,
    make_due,
    raw_of,
    survey_emails,
    survey_url,
)
from tests.scenarios import survey_world as world
from touchpoints import services
from touchpoints.models import Touchpoint

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
