"""The customer signs off a stage through a link: the answer, whose name it carries, and the review
before the irreversible POST."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.test import Client

from crm.models import Activity
from customer_links.models import CustomerLink
from delivery import services
from delivery.models import SignOff, Stage
from flows import actions as flows
from tests.scenarios import (
    SIGNED_OFF,
    assert_customer_headers,
    body,
    expire,
    landed,
    request_signoff,
    sign,
    signoff_url,
    stage,
)
from tests.scenarios import signoff_world as world

# --- Signing off ---------------------------------------------------------------------------------


def test_the_customer_signs_off_once_with_name_ip_and_user_agent(
    project, owner, signoff_link, mailoutbox, django_capture_on_commit_callbacks
):
    link, path = signoff_link
    client = landed(path)
    url = signoff_url(stage(project, 1))

    with django_capture_on_commit_callbacks(execute=True):
        response = sign(
            client, url, {**SIGNED_OFF, "typed_name": "  Alice Martin "}, REMOTE_ADDR="198.51.100.23",
            HTTP_USER_AGENT="Mozilla/5.0 (Customer laptop)",
        )
    with django_capture_on_commit_callbacks(execute=True):
        again = sign(client, url, SIGNED_OFF)

    assert response.status_code == 302 and response["Location"] == url
    signoff = SignOff.objects.get()
    assert (signoff.typed_name, signoff.ip_address, signoff.user_agent, signoff.decision) == (
        "Alice Martin", "198.51.100.23", "Mozilla/5.0 (Customer laptop)", "signed_off"
    )
    assert signoff.link_id == link.pk and signoff.contact.first_name == "Alice"
    s = stage(project, 1)
    assert s.state == Stage.State.SIGNED_OFF and s.signed_off_at is not None
    assert CustomerLink.objects.get(pk=link.pk).used_at is not None
    event = Activity.objects.get(event_type="delivery.stage.signed_off")
    assert event.actor is None and "customer via link" in event.actor_label and event.ip_address == "198.51.100.23"
    assert again.status_code == 409 and "already signed off" in body(again)
    assert SignOff.objects.count() == 1
    assert Activity.objects.filter(event_type="delivery.stage.signed_off").count() == 1
    assert [m.to for m in mailoutbox] == [[owner.email]]


def test_asking_for_changes_needs_a_reason(project, signoff_link, mailoutbox):
    link, path = signoff_link
    client = landed(path)
    url = signoff_url(stage(project, 1))
    before = world(mailoutbox)

    response = client.post(url, {"typed_name": "Alice Martin", "decision": "request_changes", "reason": "   "})

    assert response.status_code == 400 and "nothing was saved" in body(response)
    # The message sits in the reason field, which is marked, and the typed name is kept.
    text = body(response)
    reason_field = text[text.index('<label for="id_reason">'):text.index('class="form-actions"')]
    assert "Say what needs to change." in reason_field
    assert '<div class="field has-error">\n      <label for="id_reason">' in text
    assert 'value="Alice Martin"' in text
    assert world(mailoutbox) == before
    assert CustomerLink.objects.get(pk=link.pk).used_at is None
    # The link still works.
    response = sign(
        client, url, {"typed_name": "Alice Martin", "decision": "request_changes", "reason": "The training dates are wrong."}
    )
    assert response.status_code == 302
    s = stage(project, 1)
    assert s.state == Stage.State.CHANGES_REQUESTED and s.changes_reason == "The training dates are wrong."
    answered = client.get(url)
    assert answered.status_code == 200 and "received your change request" in body(answered)


def test_a_missing_name_signs_nothing(project, signoff_link, mailoutbox):
    _link, path = signoff_link
    client = landed(path)
    before = world(mailoutbox)
    response = client.post(signoff_url(stage(project, 1)), {"typed_name": "", "decision": "sign_off"})
    assert response.status_code == 400 and "Type your full name to sign." in body(response)
    assert world(mailoutbox) == before


def test_an_unknown_decision_signs_nothing(project, signoff_link, mailoutbox):
    _link, path = signoff_link
    client = landed(path)
    before = world(mailoutbox)
    url = signoff_url(stage(project, 1))
    for data in ({"typed_name": "Alice Martin", "reason": "x"}, {"typed_name": "Alice Martin", "decision": "maybe"}):
        response = client.post(url, data)
        assert response.status_code == 400 and "Choose to sign off or to ask for changes." in body(response)
    assert world(mailoutbox) == before


def test_a_csrf_token_is_required_to_sign(project, signoff_link, mailoutbox):
    _link, path = signoff_link
    client = Client(enforce_csrf_checks=True)
    url = signoff_url(stage(project, 1))
    assert client.get(path).status_code == 302
    before = world(mailoutbox)

    refused = sign(client, url, SIGNED_OFF)

    assert refused.status_code == 403
    assert world(mailoutbox) == before
    page = client.get(url)
    assert page.status_code == 200
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    accepted = sign(client, url, {**SIGNED_OFF, "csrfmiddlewaretoken": token})
    assert accepted.status_code == 302
    assert SignOff.objects.count() == 1


def test_a_csrf_token_is_required_to_ask_for_renewal(project, signoff_link, mailoutbox):
    link, path = signoff_link
    expire(link)
    client = Client(enforce_csrf_checks=True)
    client.get(path)
    assert client.post(f"/c/renew/{link.pk}/").status_code == 403
    assert CustomerLink.objects.get(pk=link.pk).renewal_requested_at is None


# --- The signature: whose name, and a review before the irreversible POST -----------------------


def test_a_signature_ignores_case_spacing_and_accents_only():
    assert services.signature_key("anna  MÜLLER") == services.signature_key("Anna Müller")
    assert services.signature_key(" Ånna\tMuller ") == services.signature_key("Anna Müller")
    assert services.signature_key("Anna Miller") != services.signature_key("Anna Müller")
    assert services.signature_key("Bob") != services.signature_key("Anna Müller")


def test_the_typed_name_matching_the_signer_with_other_case_spacing_and_accents_signs(
    project, owner, mailoutbox, django_capture_on_commit_callbacks,
):
    alice = project.account.contacts.get(first_name="Alice")
    type(alice).objects.filter(pk=alice.pk).update(first_name="Anna", last_name="Müller")
    _link, path = request_signoff(project, 1, owner, mailoutbox, django_capture_on_commit_callbacks, contact_name="Anna")
    client = landed(path)
    url = signoff_url(stage(project, 1))

    response = sign(client, url, {"typed_name": "anna  MÜLLER", "decision": "sign_off"})

    assert response.status_code == 302
    signoff = SignOff.objects.get()
    assert (signoff.typed_name, signoff.on_behalf_name, signoff.on_behalf_role) == ("anna MÜLLER", "", "")  # stored as one line
    assert stage(project, 1).state == Stage.State.SIGNED_OFF


def test_a_name_that_is_not_the_signers_is_refused_naming_the_field(project, signoff_link, mailoutbox):
    link, path = signoff_link
    client = landed(path)
    url = signoff_url(stage(project, 1))
    before = world(mailoutbox)

    response = client.post(url, {"typed_name": "Bob", "decision": "sign_off"})

    assert response.status_code == 400
    text = body(response)
    name_field = text[text.index('<label for="id_typed_name">'):text.index('name="on_behalf"')]
    assert "Type the name of the person asked to sign, Alice Martin" in name_field
    assert "You are about to sign off" not in text
    assert world(mailoutbox) == before
    assert CustomerLink.objects.get(pk=link.pk).used_at is None
    # The service refuses it too, whoever calls it.
    with pytest.raises(ValidationError) as refused:
        flows.customer_answer(link=link, signed_off=True, typed_name="Bob", ip=None, user_agent="")
    assert set(refused.value.message_dict) == {"typed_name"}
    assert world(mailoutbox) == before


def test_the_form_post_only_shows_the_review_and_records_nothing(project, signoff_link, mailoutbox):
    link, path = signoff_link
    client = landed(path)
    url = signoff_url(stage(project, 1))
    before = world(mailoutbox)

    review = client.post(url, SIGNED_OFF)

    assert review.status_code == 200
    assert "You are about to sign off <strong>Kickoff</strong> as <strong>Alice Martin</strong>; this cannot be undone." in body(review)
    assert 'name="step" value="confirm"' in body(review)
    assert_customer_headers(review)
    assert world(mailoutbox) == before
    assert CustomerLink.objects.get(pk=link.pk).used_at is None
    # Going back (a GET) changes nothing and shows the answer again to change it.
    back = client.get(url)
    assert back.status_code == 200 and 'value="Alice Martin"' in body(back)
    assert world(mailoutbox) == before
    # Confirming records it, once.
    confirmed = client.post(url, {"step": "confirm", "review": review.context["review"]})
    assert confirmed.status_code == 302
    assert SignOff.objects.get().typed_name == "Alice Martin"
    assert CustomerLink.objects.get(pk=link.pk).used_at is not None


@pytest.mark.parametrize("confirm", [
    {"step": "confirm"},
    {"step": "confirm", "review": "guessed"},
    {"step": "confirm", "review": "", **SIGNED_OFF},
])
def test_a_final_post_without_its_review_signs_nothing(project, signoff_link, mailoutbox, confirm):
    link, path = signoff_link
    client = landed(path)
    url = signoff_url(stage(project, 1))
    if confirm.get("review") == "guessed":
        client.post(url, SIGNED_OFF)  # a review exists, but this POST does not carry its nonce
    before = world(mailoutbox)

    response = client.post(url, confirm)

    assert response.status_code == 400
    assert "Check your answer first: nothing was recorded." in body(response)
    assert world(mailoutbox) == before
    assert CustomerLink.objects.get(pk=link.pk).used_at is None


def test_the_confirmed_answer_is_the_reviewed_one(project, signoff_link, mailoutbox):
    _link, path = signoff_link
    client = landed(path)
    url = signoff_url(stage(project, 1))
    review = client.post(url, SIGNED_OFF)
    # Fields slipped into the confirming POST are not what was reviewed: they are ignored.
    confirmed = client.post(url, {
        "step": "confirm", "review": review.context["review"], "typed_name": "Mallory",
        "decision": "request_changes", "reason": "x",
    })
    assert confirmed.status_code == 302
    signoff = SignOff.objects.get()
    assert (signoff.typed_name, signoff.decision) == ("Alice Martin", "signed_off")


def test_someone_answering_on_the_signers_behalf_gives_their_name_and_role(
    project, owner, signoff_link, mailoutbox, django_capture_on_commit_callbacks, rep,
):
    _link, path = signoff_link
    client = landed(path)
    url = signoff_url(stage(project, 1))
    data = {"typed_name": "Bob Stone", "decision": "sign_off", "on_behalf": "yes", "on_behalf_role": "Operations lead"}

    review = client.post(url, data)
    assert review.status_code == 200
    assert "as <strong>Bob Stone</strong>, Operations lead, on behalf of Alice Martin; this cannot be undone." in body(review)
    with django_capture_on_commit_callbacks(execute=True):
        confirmed = client.post(url, {"step": "confirm", "review": review.context["review"]})

    assert confirmed.status_code == 302
    signoff = SignOff.objects.get()
    assert (signoff.typed_name, signoff.on_behalf_name, signoff.on_behalf_role) == (
        "Bob Stone", "Bob Stone", "Operations lead",
    )
    assert signoff.contact.first_name == "Alice"
    # The delivery owner's email says so.
    [email] = mailoutbox
    assert "ON BEHALF: Bob Stone (Operations lead) answered on behalf of Alice Martin" in email.body
    # So do the timeline and the project page.
    event = Activity.objects.get(event_type="delivery.stage.signed_off")
    assert "on behalf of Alice Martin" in event.subject and event.data["on_behalf_role"] == "Operations lead"
    staff = Client()
    staff.force_login(owner)
    page = staff.get(f"/deliveries/{project.pk}/")
    assert page.status_code == 200, page.status_code
    assert "On behalf" in body(page) and "Operations lead, answering for Alice Martin" in body(page)


def test_answering_on_behalf_needs_a_role(project, signoff_link, mailoutbox):
    link, path = signoff_link
    client = landed(path)
    before = world(mailoutbox)
    response = client.post(
        signoff_url(stage(project, 1)), {"typed_name": "Bob Stone", "decision": "sign_off", "on_behalf": "yes"},
    )
    assert response.status_code == 400
    text = body(response)
    assert "Say in what role you answer for Alice Martin." in text[text.index('name="on_behalf"'):]
    assert world(mailoutbox) == before
    assert CustomerLink.objects.get(pk=link.pk).used_at is None
