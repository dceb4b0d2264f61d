"""Tampered, expired, used and revoked survey links answer alike and reveal nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from customer_links import services as links
from customer_links.models import CustomerLink
from customer_links.pages import SESSION_KEY
from flows import actions as flows
from tests.scenarios import (
    HAPPY,
    LOW,
    assert_customer_headers,
    body,
    emailed_path,
    expire,
    landed,
    make_due,
    raw_of,
    survey_emails,
    survey_url,
    tampered,
)
from tests.scenarios import survey_world as world
from touchpoints import services
from touchpoints.models import SurveyResponse

# --- Bad links -----------------------------------------------------------------------------------


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
