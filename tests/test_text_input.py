"""Text is stored the way it is used (core.text): names and other single-line text on one line,
multi-line text with LF line breaks, and control characters (NUL, C0/C1, DEL, bidirectional
overrides) refused with a message naming the field, saving nothing: in every form, API field,
the admin and the customer's pages (reliability.md 29; a NUL used to reach PostgreSQL as a 500).

The tests run on SQLite and PostgreSQL alike; the one at the end shows why it matters there.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from django import forms
from django.apps import apps
from django.contrib.auth.forms import UsernameField
from django.db import DataError, connection, transaction
from django.test import Client
from rest_framework import serializers

from core import text
from core.api.fields import MultiLineSerializerField, SingleLineSerializerField
from crm import services
from crm.models import Account, Activity, Contact
from customer_links.models import CustomerLink
from delivery.models import SignOff, Stage
from tests.scenarios import api_for, client_for, sign, signoff_url, survey_url
from touchpoints.models import SurveyResponse

API = "/api/v1"
APPS = ["crm", "handover", "delivery", "touchpoints", "insights"]

REFUSED = ["\x00", "\x07", "\x1b", "\x7f", "\x85\x00", "\x9b", "\u202e", "\u2066", "\x1f"]


# --- The rule -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("given", "stored"), [
    ("Acme\r\nRobotics", "Acme Robotics"),
    ("  Acme\t\tRobotics \n", "Acme Robotics"),
    ("Acme\u2028Robotics\x85GmbH", "Acme Robotics GmbH"),
    ("Zoë Müller-Łukasz 李", "Zoë Müller-Łukasz 李"),
    ("\ufeffAcme\u200b Robotics\u2060", "Acme Robotics"),  # pasted invisibles dropped
    ("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645 \U0001f469\u200d\U0001f4bb", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645 \U0001f469\u200d\U0001f4bb"),
])
def test_single_line_text_folds_whitespace_runs_to_one_space(given, stored):
    assert text.as_single_line(given) == stored
    text.validate_single_line(given)


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x1b", "\x1f", "\x7f", "\x80", "\x9f", *text.BIDI_CONTROLS])
def test_single_line_text_refuses_control_characters_and_bidi_overrides(char):
    with pytest.raises(text.ValidationError, match=f"U\\+{ord(char):04X}"):
        text.validate_single_line(f"Acme{char}Robotics")


def test_multi_line_text_keeps_line_breaks_and_tabs_as_lf_and_refuses_the_rest():
    assert text.as_multi_line(" one\r\ntwo\rthree\n\tfour ") == "one\ntwo\nthree\n\tfour"
    text.validate_multi_line("one\r\ntwo\tthree")
    for char in ["\x00", "\x0b", "\x0c", "\x7f", "\x85", "\u202e"]:
        with pytest.raises(text.ValidationError):
            text.validate_multi_line(f"one{char}two")


# --- Every form and serializer uses it -----------------------------------------------------------


def _subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_subclasses(sub)}
    return found


def _ours(cls: type) -> bool:
    return cls.__module__.split(".")[0] in APPS


def _import_everything() -> None:
    for app in APPS:
        for module in ("forms", "views", "admin", "api.serializers", "api.views", "customer_views"):
            try:
                importlib.import_module(f"{app}.{module}")
            except ModuleNotFoundError as exc:
                if exc.name != f"{app}.{module}":
                    raise


# Django's email, URL and username fields refuse control characters with their own checks.
TEXT_FORM_FIELDS = (text.SingleLineFormField, text.MultiLineFormField, forms.EmailField, forms.URLField,
                    UsernameField)
# Serializers that only shape responses: nothing is ever parsed through them.
RESPONSE_ONLY = {"AttributionSerializer", "ReportingLineResultSerializer", "TokenSerializer", "UserDeactivatedSerializer", "DetailSerializer",
                 "PlanRowSerializer"}


def test_every_text_field_of_every_form_applies_the_rule():
    _import_everything()
    offenders = [
        f"{form.__module__}.{form.__name__}.{name}"
        for form in _subclasses(forms.BaseForm) if _ours(form)
        for name, field in form.base_fields.items()  # type: ignore[attr-defined]
        if type(field) is forms.CharField or (isinstance(field, forms.CharField)
                                              and not isinstance(field, TEXT_FORM_FIELDS))
    ]
    assert offenders == []


def test_every_free_text_model_field_applies_the_rule():
    system = {"session_key", "token_hash", "target", "kind", "key", "event_type", "user_agent", "last_error",
              "notice_error", "email_error", "acceptance_email_error",
              "state"}
    offenders = [
        f"{model._meta.label}.{field.name}"
        for model in apps.get_models() if model._meta.app_label in APPS
        for field in model._meta.get_fields()
        if type(field).__name__ in ("CharField", "TextField", "EmailField", "URLField")
        and type(field).__module__.startswith("django.") and not field.choices and field.name not in system
    ]
    assert offenders == []


def test_every_writable_text_field_of_every_serializer_applies_the_rule():
    _import_everything()
    offenders = []
    for serializer in _subclasses(serializers.Serializer):
        if not _ours(serializer) or serializer.__name__ in RESPONSE_ONLY:
            continue
        if serializer.__module__.startswith("insights."):
            continue  # the insights API only answers GETs with figures
        if issubclass(serializer, serializers.ModelSerializer) and not hasattr(serializer, "Meta"):
            continue  # a base class
        fields = serializer().fields
        for name, field in fields.items():
            if field.read_only or not isinstance(field, serializers.CharField):
                continue
            if isinstance(field, (SingleLineSerializerField, MultiLineSerializerField, serializers.EmailField,
                                  serializers.URLField, serializers.ChoiceField)):
                continue
            if name == "password":
                continue  # a secret is compared, never shown or stored as text
            offenders.append(f"{serializer.__module__}.{serializer.__name__}.{name}")
    assert offenders == []


# --- The API -------------------------------------------------------------------------------------


def test_an_account_name_pasted_with_a_line_break_is_stored_on_one_line(rep):
    response = api_for(rep).post(f"{API}/accounts/", {"name": "\ufeffAcme\r\nRobotics\tGmbH\u200b", "notes": "a\r\nb"},
                                 format="json")

    assert response.status_code == 201, response.content
    account = Account.objects.get(pk=response.json()["id"])
    assert (account.name, account.notes) == ("Acme Robotics GmbH", "a\nb")


@pytest.mark.parametrize("char", REFUSED)
def test_the_api_refuses_a_control_character_in_a_name_naming_the_field(rep, char):
    before = Account.objects.count()

    response = api_for(rep).post(f"{API}/accounts/", {"name": f"Ac{char}me", "city": "Lyon"}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["name"]
    assert response.json()["name"][0].startswith("Name contains an invisible control character")
    assert Account.objects.count() == before


def test_the_api_refuses_a_nul_in_a_multi_line_field_and_a_contact_email(account, rep):
    client = api_for(rep)
    before = (Contact.objects.count(), Activity.objects.count())

    bad_note = client.post(f"{API}/activities/", {"account": account.pk, "kind": "call", "subject": "Call",
                                                   "body": "line one\nline\x00two"}, format="json")
    bad_email = client.post(f"{API}/contacts/", {"account": account.pk, "first_name": "Eve",
                                                  "email": "eve@acme\u202e.example"}, format="json")

    assert bad_note.status_code == 400 and "body" in bad_note.json(), bad_note.content
    assert bad_email.status_code == 400 and "email" in bad_email.json(), bad_email.content
    assert (Contact.objects.count(), Activity.objects.count()) == before


def test_a_body_nested_a_hundred_thousand_levels_deep_answers_400(rep):
    client = api_for(rep)

    for path in (f"{API}/accounts/", f"{API}/auth/token/"):
        response = client.generic("POST", path, "[" * 100_000, content_type="application/json")
        assert response.status_code == 400, (path, response.status_code)
        assert "nested too deeply" in response.json()["detail"]



@pytest.mark.parametrize("path, body", [
    ("accounts/", '{"name": "Acme", "owner": 1e999}'),
    ("accounts/", '{"name": 1e999999}'),
    ("deals/", '{"account": 1e999, "name": "x"}'),
    ("contacts/", '{"account": -1e999, "first_name": "x"}'),
    ("activities/", '{"account": 1, "kind": "call", "subject": "s", "deal": [1e999]}'),
])
def test_a_number_too_large_for_a_float_answers_400_and_saves_nothing(rep, account, path, body):
    before = (Account.objects.count(), Contact.objects.count(), Activity.objects.count())

    response = api_for(rep).generic("POST", f"{API}/{path}", body, content_type="application/json")

    assert response.status_code == 400, response.content
    assert "too large" in response.json()["detail"]
    assert (Account.objects.count(), Contact.objects.count(), Activity.objects.count()) == before

# --- The staff forms and the admin ---------------------------------------------------------------


def test_the_contact_form_stores_a_pasted_name_on_one_line(account, rep):
    response = client_for(rep).post(f"/accounts/{account.pk}/contacts/new/", {
        "first_name": "Eve\r\n", "last_name": "Adams\tJones", "role": "other", "preferred_channel": "email",
        "is_active": "on",
    })

    assert response.status_code == 302, response.content.decode()[:2000]
    assert Contact.objects.filter(first_name="Eve", last_name="Adams Jones").exists()


@pytest.mark.parametrize("char", ["\x00", "\u202e", "\x1b"])
def test_the_contact_form_refuses_a_control_character_next_to_the_field(account, rep, char):
    before = Contact.objects.count()

    response = client_for(rep).post(f"/accounts/{account.pk}/contacts/new/", {
        "first_name": f"Eve{char}", "role": "other", "preferred_channel": "email", "is_active": "on",
    })

    assert response.status_code in (200, 400)
    assert response.context["form"].errors["first_name"] == [
        f"First name contains an invisible control character ({text._describe(char)}), which cannot be stored. "
        "Remove it and try again."
    ]
    assert Contact.objects.count() == before


def test_the_admin_refuses_a_nul_in_an_account_name(account, admin_user):
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    response = client_for(admin_user).post(f"/admin/crm/account/{account.pk}/change/", {
        "name": "Acme\x00", "lifecycle": "prospect",
    })

    assert response.status_code == 200
    assert "control character" in str(response.context["adminform"].form.errors["name"])
    account.refresh_from_db()
    assert account.name == "Acme Robotics"


def test_a_name_saved_by_any_code_path_is_stored_on_one_line(rep):
    account = services.account_create(by=rep, name="Acme\nRobotics")
    account.refresh_from_db()
    assert account.name == "Acme Robotics"


# --- The customer's pages ------------------------------------------------------------------------


def stage_of(link: Any) -> Stage:
    return Stage.objects.get(pk=CustomerLink.target_pk(link.target))


def _landed(path: str) -> Client:
    client = Client()
    assert client.get(path).status_code == 302
    return client


@pytest.mark.parametrize(("field", "value"), [("typed_name", "Alice\x00Martin"), ("reason", "Wrong\x00colour")])
def test_a_nul_in_the_sign_off_form_is_refused_naming_the_field(signoff_link, field, value):  # noqa: F811
    link, path = signoff_link
    client = _landed(path)
    data = {"decision": "request_changes", "typed_name": "Alice Martin", "reason": "Wrong colour", field: value}

    response = client.post(signoff_url(stage_of(link)), data)

    assert response.status_code == 400
    assert "control character" in response.content.decode()
    assert SignOff.objects.count() == 0
    link.refresh_from_db()
    assert link.used_at is None


def test_a_sign_off_with_a_name_on_two_lines_is_stored_on_one(signoff_link):  # noqa: F811
    link, path = signoff_link
    client = _landed(path)

    response = sign(client, signoff_url(stage_of(link)), {"decision": "sign_off", "typed_name": "Alice\r\nMartin"},
                    HTTP_USER_AGENT="Mozilla\x00/5.0")

    assert response.status_code == 302
    answer = SignOff.objects.get()
    assert (answer.typed_name, answer.user_agent) == ("Alice Martin", "Mozilla/5.0")


def test_a_nul_in_the_survey_comment_is_refused_naming_the_field(checkup, survey_link):  # noqa: F811
    _link, path = survey_link
    client = _landed(path)

    response = client.post(survey_url(checkup), {"satisfaction": "4", "as_expected": "yes",
                                                 "comment": "Fine\x00thanks"})

    assert response.status_code == 400
    assert "Your comment contains an invisible control character" in response.content.decode()
    assert not SurveyResponse.objects.filter(touchpoint=checkup).exists()


# --- Why: PostgreSQL refuses NUL -----------------------------------------------------------------


@pytest.mark.skipif(connection.vendor != "postgresql", reason="only PostgreSQL refuses NUL in text")
def test_postgresql_refuses_a_nul_that_reached_it(rep):
    account = services.account_create(by=rep, name="Acme")
    with pytest.raises((ValueError, DataError)), transaction.atomic():
        Account.objects.filter(pk=account.pk).update(name="Acme\x00")


def test_the_migration_folds_line_breaks_in_names_stored_before(account, deal):
    migration = importlib.import_module("crm.migrations.0007_single_line_names")
    Account.objects.filter(pk=account.pk).update(name="Acme\r\nRobotics", city="Lyon\t")
    Contact.objects.filter(account=account, first_name="Alice").update(last_name="Mar\ntin")
    type(deal).objects.filter(pk=deal.pk).update(name="Line\u20282")

    migration.fold_line_breaks(apps, None)

    account.refresh_from_db()
    deal.refresh_from_db()
    assert (account.name, account.city, deal.name) == ("Acme Robotics", "Lyon", "Line 2")
    assert Contact.objects.get(account=account, first_name="Alice").last_name == "Mar tin"
