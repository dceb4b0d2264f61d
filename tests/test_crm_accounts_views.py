"""The crm browser UI: pages, actions, access rules, bad input, side effects and query budgets."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm import services
from crm.admin import KeepwarmUserChangeForm
from crm.models import Account, AccountTeamMember, Activity, Contact, Deal, DealLineItem, OwnershipChange, UserProfile
from flows import actions as flows
from tests.scenarios import client_for

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def url(name: str, *args: Any) -> str:
    return reverse(f"crm:{name}", args=args)


def activity_on(account: Account) -> Activity:
    return Activity.objects.filter(account=account).order_by("pk").first()  # type: ignore[return-value]


# --- Accounts list --------------------------------------------------------------------------


def test_the_accounts_list_shows_my_accounts_and_not_another_reps(rep: User, account: Account, other_account: Account) -> None:
    response = client_for(rep).get(url("account_list"))
    assert response.status_code == 200
    assert b"Acme Robotics" in response.content
    assert b"Globex" not in response.content


def test_the_accounts_list_searches_and_filters(salesmgr: User, rep: User, account: Account, other_account: Account) -> None:
    client = client_for(salesmgr)
    assert b"Globex" not in client.get(url("account_list"), {"q": "acme"}).content
    by_owner = client.get(url("account_list"), {"owner": rep.pk}).content
    assert b"Acme Robotics" in by_owner and b"Globex" not in by_owner
    # Globex has one contact: single-threaded; Acme has two contacts and two people.
    single = client.get(url("account_list"), {"threads": "single"}).content
    assert b"Globex" in single and b"Acme Robotics" not in single
    assert b"Acme Robotics" not in client.get(url("account_list"), {"lifecycle": "churned"}).content
    assert b"No account matches" in client.get(url("account_list"), {"q": "nothing-like-this"}).content


def test_mine_only_leaves_out_accounts_a_manager_is_not_on(salesmgr: User, account: Account) -> None:
    response = client_for(salesmgr).get(url("account_list"), {"mine": "on"})
    assert b"Acme Robotics" not in response.content


def test_the_accounts_list_paginates(rep: User) -> None:
    for i in range(55):
        services.account_create(by=rep, name=f"Account {i:02d}")
    client = client_for(rep)
    first = client.get(url("account_list"))
    assert first.context["page"].paginator.num_pages == 2
    assert len(first.context["page"].object_list) == 50
    assert len(client.get(url("account_list"), {"page": 2}).context["page"].object_list) == 5


def test_an_empty_accounts_list_invites_to_create_one(rep: User) -> None:
    assert b"No accounts yet" in client_for(rep).get(url("account_list")).content


# --- Account create / edit ------------------------------------------------------------------


def test_a_rep_creates_an_account_with_a_ledger_row_and_events(rep: User) -> None:
    response = client_for(rep).post(
        url("account_create"), {"name": "Initech", "lifecycle": "prospect", "city": "Austin", "website": "initech.example"}
    )
    account = Account.objects.get(name="Initech")
    assert response.status_code == 302 and response["Location"] == url("account_detail", account.pk)
    assert account.owner == rep
    assert OwnershipChange.objects.filter(account=account, to_user=rep, reason="new").count() == 1
    assert set(Activity.objects.filter(account=account).values_list("event_type", flat=True)) == {
        "account.created", "account.owner_changed",
    }


def test_creating_an_account_without_a_name_names_the_field_and_saves_nothing(rep: User) -> None:
    response = client_for(rep).post(url("account_create"), {"name": "", "lifecycle": "nonsense"})
    assert response.status_code == 200
    assert "name" in response.context["form"].errors and "lifecycle" in response.context["form"].errors
    assert b'id="id_name_error"' in response.content
    assert not Account.objects.exists()


def test_editing_an_account_writes_an_event(rep: User, account: Account) -> None:
    response = client_for(rep).post(
        url("account_edit", account.pk), {"name": "Acme Robotics SA", "lifecycle": "customer", "city": "Lyon"}
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.name == "Acme Robotics SA"
    assert Activity.objects.filter(account=account, event_type="account.updated").count() == 1


def test_an_oversized_account_name_is_refused(rep: User, account: Account) -> None:
    response = client_for(rep).post(url("account_edit", account.pk), {"name": "x" * 201, "lifecycle": "prospect"})
    assert "name" in response.context["form"].errors
    account.refresh_from_db()
    assert account.name == "Acme Robotics"


# --- Account page and timeline --------------------------------------------------------------


def test_the_account_page_shows_contacts_team_ledger_and_deals(rep: User, account: Account, deal: Deal) -> None:
    services.team_member_add(account=account, by=rep, user=User.objects.get(username="presales"), role="support")
    member = AccountTeamMember.objects.get(account=account, role="support")
    services.team_member_end(member=member, by=rep)
    response = client_for(rep).get(url("account_detail", account.pk))
    body = response.content.decode()
    assert response.status_code == 200
    for text in ("Alice Martin", "Bruno Petit", "Presales", "New account", "Acme line 2", "Past team (1)"):
        assert text in body
    assert 'id="single-thread-flag"' not in body


def test_the_account_page_flags_a_single_threaded_account(rep2: User, other_account: Account) -> None:
    response = client_for(rep2).get(url("account_detail", other_account.pk))
    assert b'id="single-thread-flag"' in response.content


def test_logging_a_call_with_htmx_returns_the_new_row_and_a_fresh_form(rep: User, account: Account, deal: Deal) -> None:
    response = client_for(rep).post(
        url("activity_log", account.pk), {"kind": "call", "subject": "Called Alice", "body": "All good", "deal": deal.pk}, **HTMX
    )
    assert response.status_code == 200
    activity = Activity.objects.get(account=account, kind="call")
    assert activity.actor == rep and activity.deal == deal
    body = response.content.decode()
    assert 'hx-swap-oob="afterbegin:#timeline-list"' in body and "Called Alice" in body
    assert f'id="activity-{activity.pk}"' in body


def test_logging_an_activity_without_htmx_redirects_to_the_account(rep: User, account: Account) -> None:
    response = client_for(rep).post(url("activity_log", account.pk), {"kind": "meeting", "subject": "Kick-off"})
    assert response.status_code == 302
    assert Activity.objects.filter(account=account, kind="meeting").count() == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"kind": "call", "subject": ""}, "subject"),
        ({"kind": "event", "subject": "Fake system event"}, "kind"),
        ({"kind": "call", "subject": "x" * 201}, "subject"),
        ({"kind": "call", "subject": "Later", "occurred_at": "2999-01-01T10:00"}, "occurred_at"),
        ({"kind": "call", "subject": "Old", "occurred_at": "1990-01-01T10:00"}, "occurred_at"),
        ({"kind": "call", "subject": "Date", "occurred_at": "not a date"}, "occurred_at"),
    ],
)
def test_bad_activity_input_names_the_field_and_saves_nothing(rep: User, account: Account, data: dict, field: str) -> None:
    before = Activity.objects.count()
    response = client_for(rep).post(url("activity_log", account.pk), data, **HTMX)
    assert response.status_code == 200
    assert field in response.context["activity_form"].errors
    assert b'class="error"' in response.content
    assert Activity.objects.count() == before


def test_an_activity_cannot_point_at_another_accounts_deal(rep: User, account: Account, other_deal: Deal) -> None:
    response = client_for(rep).post(url("activity_log", account.pk), {"kind": "call", "subject": "x", "deal": other_deal.pk}, **HTMX)
    assert "deal" in response.context["activity_form"].errors
    assert not Activity.objects.filter(kind="call").exists()


def test_older_timeline_rows_come_in_pages(rep: User, account: Account) -> None:
    now = timezone.now()
    for i in range(40):
        services.activity_log(account=account, by=rep, kind="note", subject=f"Note {i}", occurred_at=now - timedelta(hours=i + 1))
    client = client_for(rep)
    page = client.get(url("account_detail", account.pk)).context["page"]
    assert len(page.timeline) == 30 and page.timeline_has_more
    older = client.get(url("account_timeline", account.pk), {"before": page.timeline[-1].pk}, **HTMX)
    assert older.status_code == 200
    assert len(older.context["page"].timeline) == Activity.objects.filter(account=account).count() - 30
    assert not older.context["page"].timeline_has_more
    # Without htmx the same link shows the older page inside the account page.
    assert client.get(url("account_detail", account.pk), {"before": page.timeline[-1].pk}).status_code == 200


def test_a_timeline_entry_shows_what_happened_escaped(rep: User, account: Account, deal: Deal) -> None:
    from zoneinfo import ZoneInfo

    from crm.templatetags.crm_ui import timeline_item

    when = datetime(2026, 3, 9, 23, 30, tzinfo=UTC)
    body = "First <b>line</b>\nsecond & last" + " word" * 80
    call = services.activity_log(
        account=account, by=rep, kind="call", subject="Call <script>x</script>", body=body, deal=deal, occurred_at=when
    )
    html = str(timeline_item(Activity.objects.timeline().get(pk=call.pk)))
    assert html.startswith(f'<article class="tl-item tl-call" id="activity-{call.pk}">')
    assert f'href="/activities/{call.pk}/"' in html and ">☎<" in html
    assert "Call &lt;script&gt;x&lt;/script&gt;</a>" in html and "<script>" not in html
    assert '<span class="badge badge-muted">Call</span>' in html
    assert f'<span class="muted small">· {deal.name}</span>' in html
    # The body: escaped, its line breaks kept, cut at 280 characters as truncatechars cuts.
    text = html.split('<p class="tl-text">')[1].split("</p>")[0]
    assert text.startswith("First &lt;b&gt;line&lt;/b&gt;<br>second &amp; last word")
    assert text.endswith("…") and len(text.replace("<br>", "\n").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")) == 280
    assert f'{rep.get_full_name()} · <time datetime="2026-03-09T23:30:00+00:00">9 Mar 2026 23:30</time>' in html
    # Dates read in the current time zone, as Django's date filter reads them.
    with timezone.override(ZoneInfo("Asia/Tokyo")):
        assert '<time datetime="2026-03-10T08:30:00+09:00">10 Mar 2026 08:30</time>' in str(
            timeline_item(Activity.objects.get(pk=call.pk))
        )

    # A system event: no kind badge, no body, no deal, and "Keepwarm" when no person did it.
    event = Activity.objects.create(
        account=account, kind="event", event_type="account.updated", subject="Owner changed", occurred_at=when
    )
    html = str(timeline_item(event))
    assert "badge" not in html and "tl-text" not in html and "muted small\">·" not in html
    assert ">•<" in html and "Keepwarm · <time" in html


def test_an_activity_has_its_own_page(rep: User, account: Account) -> None:
    activity = services.activity_log(account=account, by=rep, kind="note", subject="Long note", body="Line one")
    response = client_for(rep).get(url("activity_detail", activity.pk))
    assert response.status_code == 200 and b"Line one" in response.content


@pytest.mark.parametrize("value", ["", "2", 3, None])
def test_a_fast_select_writes_what_djangos_select_writes(value: Any) -> None:
    """FastSelect (crm.forms) builds <select> in Python; the HTML must stay Django's own."""
    from django import forms as django_forms

    from crm.forms import FastSelect

    choices = [("", "Choose <one>"), (2, "Zoë & co"), (3, 'He said "hi"')]
    attrs = {"id": "id_contact", "required": True, "disabled": False, "data-x": "a<b"}
    expected = django_forms.Select(choices=choices).render("contact", value, attrs=attrs)
    # The same, whitespace between the tags aside.
    assert str(FastSelect(choices=choices).render("contact", value, attrs=attrs)) == re.sub(r">\s+<", "><", expected)


@pytest.mark.parametrize("empty_label", ["Any owner", None])
def test_a_person_choice_lists_what_djangos_model_choice_lists_from_one_plain_read(
    empty_label: str | None, rep: User, rep2: User, salesmgr: User, account: Account, other_account: Account
) -> None:
    """PersonChoiceField reads its people once, without Django's server-side cursor (DECLARE ...
    WITH HOLD on PostgreSQL), and offers the same choices in the same order."""
    from django import forms as django_forms
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from crm.forms import PersonChoiceField, owners

    ours = PersonChoiceField(queryset=owners().order_by("first_name", "username"), empty_label=empty_label)
    django_own = django_forms.ModelChoiceField(
        queryset=owners().order_by("first_name", "username"), empty_label=empty_label
    )
    with CaptureQueriesContext(connection) as queries:
        choices = [(str(value), label) for value, label in ours.choices]
    assert len(queries) == 1 and "DECLARE" not in queries[0]["sql"]
    expected = [(str(value), ours.label_from_instance(User.objects.get(pk=str(value))) if str(value) else label)
                for value, label in django_own.choices]
    assert choices == expected and len(choices) == 2 + (empty_label is not None)


# --- Contacts and team ----------------------------------------------------------------------


def test_a_rep_adds_a_contact(rep: User, account: Account) -> None:
    response = client_for(rep).post(
        url("contact_create", account.pk),
        {"first_name": "Chloé", "last_name": "Roux", "role": "champion", "email": "chloe@acme.example",
         "preferred_channel": "phone", "is_active": "on"},
    )
    assert response.status_code == 302
    assert Contact.objects.filter(account=account, first_name="Chloé", preferred_channel="phone").exists()
    assert Activity.objects.filter(account=account, event_type="contact.added", subject__contains="Chloé").exists()


def test_a_malformed_contact_email_names_the_field(rep: User, account: Account) -> None:
    response = client_for(rep).post(
        url("contact_create", account.pk),
        {"first_name": "<script>alert(1)</script>", "email": "not-an-email", "role": "user", "preferred_channel": "email"},
    )
    assert "email" in response.context["form"].errors
    assert b"<script>alert(1)</script>" not in response.content  # escaped when shown back
    assert Contact.objects.filter(account=account).count() == 2


def test_editing_a_contact_marks_them_as_left(rep: User, account: Account) -> None:
    bruno = account.contacts.get(first_name="Bruno")
    response = client_for(rep).post(
        url("contact_edit", bruno.pk),
        {"first_name": "Bruno", "last_name": "Petit", "role": "technical", "preferred_channel": "email", "left_at": "2026-01-31"},
    )
    assert response.status_code == 302
    bruno.refresh_from_db()
    assert not bruno.is_active and str(bruno.left_at) == "2026-01-31"


def test_mark_as_left_is_one_post(rep: User, account: Account) -> None:
    alice = account.contacts.get(first_name="Alice")
    response = client_for(rep).post(url("contact_left", alice.pk))
    assert response.status_code == 302
    alice.refresh_from_db()
    assert not alice.is_active and alice.left_at is not None and not alice.is_primary
    assert Activity.objects.filter(account=account, subject__contains="left the organisation").exists()


def test_the_owner_adds_and_ends_a_team_member(rep: User, rep2: User, account: Account) -> None:
    client = client_for(rep)
    assert client.post(url("team_add", account.pk), {"user": rep2.pk, "role": "support"}).status_code == 302
    member = AccountTeamMember.objects.get(account=account, user=rep2)
    assert client.post(url("team_end", member.pk)).status_code == 302
    member.refresh_from_db()
    assert member.ended_at is not None
    assert Activity.objects.filter(account=account, event_type="account.team_changed").count() == 2


def test_adding_someone_twice_names_the_person_field(rep: User, presales: User, account: Account) -> None:
    response = client_for(rep).post(url("team_add", account.pk), {"user": presales.pk, "role": "presales"})
    assert response.status_code == 200
    assert "already has that role" in str(response.context["form"].errors["user"])


def test_ending_a_membership_twice_says_so(rep: User, account: Account) -> None:
    member = AccountTeamMember.objects.get(account=account, role="presales")
    client = client_for(rep)
    client.post(url("team_end", member.pk))
    response = client.post(url("team_end", member.pk), follow=True)
    assert b"already left the account team" in response.content


# --- Deals ----------------------------------------------------------------------------------


def line_items(*rows: tuple[str, str, str, str]) -> dict[str, str]:
    data = {"items-TOTAL_FORMS": str(len(rows)), "items-INITIAL_FORMS": "0", "items-MIN_NUM_FORMS": "0", "items-MAX_NUM_FORMS": "50"}
    for i, (kind, name, qty, price) in enumerate(rows):
        data.update({f"items-{i}-kind": kind, f"items-{i}-name": name, f"items-{i}-quantity": qty, f"items-{i}-unit_price": price})
    return data


def test_a_rep_opens_a_deal_with_line_items(rep: User, account: Account) -> None:
    data = {"name": "Acme line 3", "value": "30000", "currency": "eur", "expected_close_date": "2027-03-01",
            **line_items(("product", "Robot arm", "1", "25000"), ("service", "Training", "2", "2500"), ("product", "", "1", "0"))}
    response = client_for(rep).post(url("deal_create", account.pk), data)
    deal = Deal.objects.get(name="Acme line 3")
    assert response.status_code == 302 and response["Location"] == url("deal_detail", deal.pk)
    assert deal.currency == "EUR" and deal.owner == rep and deal.stage == "lead"
    assert list(deal.line_items.values_list("name", flat=True)) == ["Robot arm", "Training"]
    assert Activity.objects.filter(deal=deal, event_type="deal.created").exists()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "D", "value": "-1", "currency": "EUR"}, "value"),
        ({"name": "D", "value": "abc", "currency": "EUR"}, "value"),
        ({"name": "", "value": "1", "currency": "EUR"}, "name"),
        ({"name": "D", "value": "1", "currency": "E1"}, "currency"),
        ({"name": "D", "value": "1", "currency": "EUR", "expected_close_date": "31/02/2026"}, "expected_close_date"),
    ],
)
def test_bad_deal_input_names_the_field_and_saves_nothing(rep: User, account: Account, data: dict, field: str) -> None:
    response = client_for(rep).post(url("deal_create", account.pk), {**data, **line_items()})
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not Deal.objects.exists()


def test_a_rep_opens_a_deal_for_themselves_whatever_owner_is_posted(rep: User, rep2: User, account: Account) -> None:
    data = {"name": "Mine", "value": "10", "currency": "EUR", "owner": rep2.pk, **line_items()}
    page = client_for(rep).get(url("deal_create", account.pk)).content.decode()
    assert 'name="owner"' not in page
    assert client_for(rep).post(url("deal_create", account.pk), data).status_code == 302
    assert Deal.objects.get(name="Mine").owner == rep


def test_a_sales_manager_names_a_deal_owner_from_the_accounts_sales_team(
    salesmgr: User, presales: User, outsider: User, account: Account,
) -> None:
    page = client_for(salesmgr).get(url("deal_create", account.pk))
    choices = {u.username for u in page.context["form"].fields["owner"].queryset}
    assert "presales" in choices and "rep" in choices and "outsider" not in choices
    data = {"name": "For presales", "value": "10", "currency": "EUR", "owner": presales.pk, **line_items()}
    assert client_for(salesmgr).post(url("deal_create", account.pk), data).status_code == 302
    assert Deal.objects.get(name="For presales").owner == presales


def test_a_deal_owner_who_cannot_see_the_account_is_refused(salesmgr: User, outsider: User, account: Account) -> None:
    data = {"name": "Bad owner", "value": "10", "currency": "EUR", "owner": outsider.pk, **line_items()}
    response = client_for(salesmgr).post(url("deal_create", account.pk), data)
    assert response.status_code == 200
    assert "owner" in response.context["form"].errors
    assert not Deal.objects.exists()


def test_a_line_item_with_zero_quantity_is_refused(rep: User, account: Account) -> None:
    data = {"name": "D", "value": "1", "currency": "EUR", **line_items(("product", "Arm", "0", "10"))}
    response = client_for(rep).post(url("deal_create", account.pk), data)
    assert response.status_code == 200
    assert "quantity" in response.context["items"].forms[0].errors
    assert not Deal.objects.exists() and not DealLineItem.objects.exists()


def test_editing_a_deal_replaces_its_line_items(rep: User, deal: Deal) -> None:
    data = {"name": "Acme line 2", "value": "50000", "currency": "EUR", **line_items(("service", "Support", "1", "50000"))}
    response = client_for(rep).post(url("deal_edit", deal.pk), data)
    assert response.status_code == 302
    assert list(deal.line_items.values_list("name", flat=True)) == ["Support"]
    assert Activity.objects.filter(deal=deal, event_type="deal.updated").exists()


def test_the_deal_edit_form_starts_with_the_current_line_items(rep: User, deal: Deal) -> None:
    response = client_for(rep).get(url("deal_edit", deal.pk))
    assert b"Robot arm" in response.content and b"Installation" in response.content


def test_a_closed_deal_cannot_be_edited(rep: User, deal: Deal) -> None:
    flows.deal_win(deal=deal, by=rep)
    response = client_for(rep).get(url("deal_edit", deal.pk), follow=True)
    assert b"A closed deal cannot be edited" in response.content


def test_the_deal_page_moves_wins_and_shows_history(rep: User, deal: Deal) -> None:
    client = client_for(rep)
    assert client.get(url("deal_detail", deal.pk)).status_code == 200
    assert client.post(url("deal_move", deal.pk), {"to": "proposal"}).status_code == 302
    deal.refresh_from_db()
    assert deal.stage == "proposal"
    assert client.post(url("deal_win", deal.pk)).status_code == 302
    deal.refresh_from_db()
    assert deal.stage == "won" and deal.sold_by == rep and deal.closed_at is not None
    assert Activity.objects.filter(deal=deal, event_type="deal.won").count() == 1
    assert b"Lead -&gt; Proposal" in client.get(url("deal_detail", deal.pk)).content


def test_losing_a_deal_requires_a_reason(rep: User, deal: Deal) -> None:
    client = client_for(rep)
    response = client.post(url("deal_lose", deal.pk), {"reason": "  "})
    assert response.status_code == 400
    assert b"Say why the deal was lost" in response.content
    deal.refresh_from_db()
    assert deal.stage == "lead"
    assert client.post(url("deal_lose", deal.pk), {"reason": "Chose a competitor"}).status_code == 302
    deal.refresh_from_db()
    assert deal.stage == "lost" and deal.lost_reason == "Chose a competitor"


def test_winning_a_closed_deal_is_a_clear_conflict(rep: User, deal: Deal) -> None:
    services.deal_lose(deal=deal, by=rep, reason="Budget")
    response = client_for(rep).post(url("deal_win", deal.pk), follow=True)
    assert response.status_code == 200
    assert b'class="message message-error"' in response.content
    deal.refresh_from_db()
    assert deal.stage == "lost"


def test_moving_to_an_unknown_stage_names_the_field(rep: User, deal: Deal) -> None:
    response = client_for(rep).post(url("deal_move", deal.pk), {"to": "won"})
    assert response.status_code == 400
    assert "to" in response.context["move_form"].errors
    deal.refresh_from_db()
    assert deal.stage == "lead"


def test_the_pipeline_shows_visible_deals_by_stage(rep: User, deal: Deal, other_deal: Deal) -> None:
    response = client_for(rep).get(url("pipeline"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Acme line 2" in body and "Globex renewal" not in body
    assert [c.stage for c in response.context["columns"]] == ["lead", "qualified", "proposal", "negotiation", "won", "lost"]


def test_the_pipeline_can_show_only_my_deals(salesmgr: User, deal: Deal) -> None:
    assert b"Acme line 2" not in client_for(salesmgr).get(url("pipeline"), {"mine": "1"}).content


# --- Reassignment ---------------------------------------------------------------------------


def test_a_manager_reassigns_one_account(
    salesmgr: User, rep: User, rep2: User, account: Account, deal: Deal, django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(salesmgr).post(
            url("account_reassign", account.pk), {"to_user": rep2.pk, "reason": "territory", "note": "Call Alice first."}
        )
    assert response.status_code == 302
    account.refresh_from_db()
    deal.refresh_from_db()
    assert account.owner == rep2 and deal.owner == rep2
    change = OwnershipChange.objects.get(account=account, reason="territory")
    assert (change.from_user, change.to_user, change.assigned_by, change.note) == (rep, rep2, salesmgr, "Call Alice first.")
    assert [m.to for m in mail.outbox] == [[rep2.email]]


def test_reassigning_to_the_current_owner_names_the_field(salesmgr: User, rep: User, account: Account) -> None:
    response = client_for(salesmgr).post(url("account_reassign", account.pk), {"to_user": rep.pk, "reason": "reassignment"})
    assert response.status_code == 200
    assert "already owns" in str(response.context["form"].errors["to_user"])
    assert OwnershipChange.objects.filter(account=account).count() == 1


def test_a_book_reassignment_is_previewed_then_applied(
    salesmgr: User, rep: User, rep2: User, account: Account, deal: Deal,
) -> None:
    second = services.account_create(by=rep, name="Umbrella")
    client = client_for(salesmgr)
    form = {"from_user": rep.pk, "to_user": rep2.pk, "reason": "departure", "note": "Rep left."}
    preview = client.post(url("book_reassign"), form)
    assert preview.status_code == 200
    assert preview.context["plan"].account_count == 2 and preview.context["plan"].open_deal_count == 1
    assert b"Reassign 2 accounts" in preview.content
    assert Account.objects.filter(owner=rep).count() == 2  # the preview changes nothing

    applied = client.post(url("book_reassign"), {**form, "confirm": "1"})
    assert applied.status_code == 302
    assert set(Account.objects.filter(owner=rep2).values_list("pk", flat=True)) >= {account.pk, second.pk}
    assert OwnershipChange.objects.filter(reason="departure", from_user=rep, to_user=rep2).count() == 2
    deal.refresh_from_db()
    assert deal.owner == rep2


def test_a_book_reassignment_to_the_same_person_names_the_field(salesmgr: User, rep: User, account: Account) -> None:
    response = client_for(salesmgr).post(url("book_reassign"), {"from_user": rep.pk, "to_user": rep.pk, "reason": "departure"})
    assert response.status_code == 200
    assert "to_user" in response.context["form"].errors
    assert "plan" not in response.context


# --- People ---------------------------------------------------------------------------------


def test_the_people_list_links_to_deactivation(salesmgr: User, rep: User, account: Account) -> None:
    response = client_for(salesmgr).get(url("user_list"))
    assert response.status_code == 200
    assert url("user_deactivate", rep.pk).encode() in response.content


def test_deactivating_an_owner_asks_for_a_successor(salesmgr: User, rep: User, account: Account) -> None:
    client = client_for(salesmgr)
    assert b"Name a successor" in client.get(url("user_deactivate", rep.pk)).content
    response = client.post(url("user_deactivate", rep.pk), {"successor": ""})
    assert response.status_code == 200
    assert "still owns 1 account" in str(response.context["form"].errors["successor"])
    rep.refresh_from_db()
    assert rep.is_active


def test_deactivating_with_a_successor_moves_the_book_and_ends_sessions(
    salesmgr: User, rep: User, rep2: User, account: Account,
) -> None:
    rep_client = Client()
    rep_client.post(reverse("login"), {"username": "rep", "password": "keepwarm-test-pw"})
    assert rep_client.get(url("account_list")).status_code == 200
    response = client_for(salesmgr).post(url("user_deactivate", rep.pk), {"successor": rep2.pk, "note": "Bye"})
    assert response.status_code == 302
    rep.refresh_from_db()
    account.refresh_from_db()
    assert not rep.is_active and account.owner == rep2
    assert rep_client.get(url("account_list")).status_code == 302  # their session has ended


def test_deactivating_an_inactive_user_is_a_conflict(salesmgr: User, delivery: User) -> None:
    client = client_for(salesmgr)
    assert client.post(url("user_deactivate", delivery.pk)).status_code == 302
    response = client.post(url("user_deactivate", delivery.pk), follow=True)
    assert b"already inactive" in response.content


def test_a_user_updates_their_profile(rep: User, salesmgr: User) -> None:
    response = client_for(rep).post(
        url("profile"),
        {"phone": "+33 1 23 45 67 89", "time_zone": "Europe/Paris", "work_starts": "08:30", "work_ends": "17:30"},
    )
    assert response.status_code == 302
    profile = UserProfile.objects.get(user=rep)
    assert (profile.phone, profile.time_zone) == ("+33 1 23 45 67 89", "Europe/Paris")


def test_posting_a_manager_to_my_profile_changes_nothing(rep: User, rep2: User, salesmgr: User) -> None:
    services.profile_update(user=rep, by=User.objects.create_superuser("root", "root@vendor.example", "pw"),
                            manager=salesmgr)
    response = client_for(rep).post(
        url("profile"),
        {"time_zone": "Europe/Paris", "work_starts": "08:30", "work_ends": "17:30", "manager": rep2.pk},
    )
    assert response.status_code == 302
    profile = UserProfile.objects.get(user=rep)
    assert (profile.time_zone, profile.manager) == ("Europe/Paris", salesmgr)
    page = client_for(rep).get(url("profile")).content.decode()
    assert 'name="manager"' not in page
    assert "Salesmgr" in page and "set by an administrator" in page


def test_only_an_administrator_sets_a_reporting_line_through_the_service(rep: User, salesmgr: User) -> None:
    with pytest.raises(PermissionDenied):
        services.profile_update(user=rep, by=rep, manager=salesmgr)
    assert UserProfile.objects.get(user=rep).manager is None


def test_an_administrator_sets_the_reporting_line_in_the_admin(rep: User, salesmgr: User) -> None:
    root = User.objects.create_superuser("root", "root@vendor.example", "pw")
    profile = UserProfile.objects.get(user=rep)
    change = reverse("admin:crm_userprofile_change", args=[profile.pk])
    response = client_for(root).post(change, {
        "phone": "", "time_zone": "UTC", "work_starts": "09:00", "work_ends": "17:00", "manager": salesmgr.pk,
    })
    assert response.status_code == 302, response.content
    assert UserProfile.objects.get(user=rep).manager == salesmgr


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"time_zone": "Mars/Olympus", "work_starts": "09:00", "work_ends": "17:00"}, "time_zone"),
        ({"time_zone": "UTC", "work_starts": "18:00", "work_ends": "09:00"}, "work_ends"),
        ({"time_zone": "UTC", "work_starts": "25:00", "work_ends": "09:00"}, "work_starts"),
    ],
)
def test_bad_profile_input_names_the_field(rep: User, data: dict, field: str) -> None:
    response = client_for(rep).post(url("profile"), data)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert UserProfile.objects.get(user=rep).time_zone == "UTC"


# --- Access rules ---------------------------------------------------------------------------


@pytest.fixture
def rep_objects(rep: User, account: Account, deal: Deal) -> dict[str, Any]:
    return {
        "account": account,
        "contact": account.contacts.first(),
        "deal": deal,
        "activity": activity_on(account),
        "member": AccountTeamMember.objects.get(account=account, role="presales"),
    }


OUTSIDER_URLS = [
    ("get", "account_detail", "account"), ("get", "account_edit", "account"), ("post", "account_edit", "account"),
    ("get", "account_timeline", "account"), ("post", "activity_log", "account"),
    ("get", "contact_create", "account"), ("post", "contact_create", "account"),
    ("get", "team_add", "account"), ("post", "team_add", "account"),
    ("get", "account_reassign", "account"), ("post", "account_reassign", "account"),
    ("get", "deal_create", "account"), ("post", "deal_create", "account"),
    ("get", "activity_detail", "activity"),
    ("get", "contact_edit", "contact"), ("post", "contact_edit", "contact"), ("post", "contact_left", "contact"),
    ("post", "team_end", "member"),
    ("get", "deal_detail", "deal"), ("get", "deal_edit", "deal"), ("post", "deal_edit", "deal"),
    ("post", "deal_move", "deal"), ("post", "deal_win", "deal"), ("post", "deal_lose", "deal"),
]


@pytest.mark.parametrize(("method", "name", "kind"), OUTSIDER_URLS)
def test_it_returns_404_for_another_reps_objects(
    outsider: User, rep_objects: dict[str, Any], method: str, name: str, kind: str,
) -> None:
    before = (Activity.objects.count(), OwnershipChange.objects.count(), Contact.objects.filter(is_active=True).count())
    data = {"name": "Hijack", "to": "won", "reason": "x", "subject": "x", "kind": "call", "first_name": "X", "to_user": outsider.pk}
    response = getattr(client_for(outsider), method)(url(name, rep_objects[kind].pk), data)
    assert response.status_code == 404
    after = (Activity.objects.count(), OwnershipChange.objects.count(), Contact.objects.filter(is_active=True).count())
    assert after == before
    assert Deal.objects.get(pk=rep_objects["deal"].pk).stage == "lead"


def test_a_delivery_member_on_the_team_cannot_open_a_deal(rep: User, delivery: User, account: Account) -> None:
    services.team_member_add(account=account, by=rep, user=delivery, role="support")
    client = client_for(delivery)
    assert client.get(url("account_detail", account.pk)).status_code == 200
    assert client.get(url("deal_create", account.pk)).status_code == 403
    assert client.post(url("deal_create", account.pk), {"name": "D", "value": "1", "currency": "EUR", **line_items()}).status_code == 403
    assert not Deal.objects.exists()


def test_a_delivery_manager_cannot_work_deals(deliverymgr: User, deal: Deal) -> None:
    client = client_for(deliverymgr)
    assert client.get(url("deal_detail", deal.pk)).status_code == 200
    assert client.post(url("deal_win", deal.pk)).status_code == 403
    deal.refresh_from_db()
    assert deal.stage == "lead"


def test_a_rep_cannot_reassign(rep: User, rep2: User, account: Account) -> None:
    client = client_for(rep)
    assert client.post(url("account_reassign", account.pk), {"to_user": rep2.pk, "reason": "reassignment"}).status_code == 403
    assert client.post(url("book_reassign"), {"from_user": rep.pk, "to_user": rep2.pk, "reason": "departure", "confirm": "1"}).status_code == 403
    account.refresh_from_db()
    assert account.owner == rep


def test_a_rep_cannot_deactivate_anyone(rep: User, rep2: User) -> None:
    assert client_for(rep).post(url("user_deactivate", rep2.pk), {}).status_code == 403
    rep2.refresh_from_db()
    assert rep2.is_active


def test_presales_cannot_change_the_team(presales: User, rep2: User, account: Account) -> None:
    assert client_for(presales).post(url("team_add", account.pk), {"user": rep2.pk, "role": "support"}).status_code == 403


@pytest.mark.parametrize("name", ["activity_log", "contact_left", "team_end", "deal_move", "deal_win", "deal_lose"])
def test_action_urls_answer_405_to_get(rep: User, rep_objects: dict[str, Any], name: str) -> None:
    kind = {"activity_log": "account", "contact_left": "contact", "team_end": "member"}.get(name, "deal")
    assert client_for(rep).get(url(name, rep_objects[kind].pk)).status_code == 405


def test_csrf_is_enforced_on_ui_posts(rep: User, account: Account, deal: Deal) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(rep)
    before = Activity.objects.count()
    assert client.post(url("activity_log", account.pk), {"kind": "call", "subject": "x"}).status_code == 403
    assert client.post(url("deal_win", deal.pk)).status_code == 403
    assert Activity.objects.count() == before


# Role x UI URL: the expected answer to a GET. A new named URL fails the completeness test until
# it is added here. Columns: anonymous, rep (owner), outsider rep, sales manager, delivery
# manager, delivery team member (on no team).
PERSONAS = ["anonymous", "rep", "outsider", "salesmgr", "deliverymgr", "delivery"]
ROLE_TABLE: dict[str, tuple[str | None, tuple[int, ...]]] = {
    "home": (None, (302, 302, 302, 302, 302, 302)),
    "account_list": (None, (302, 200, 200, 200, 200, 200)),
    "account_create": (None, (302, 200, 200, 200, 403, 403)),
    "account_detail": ("account", (302, 200, 404, 200, 200, 404)),
    "account_edit": ("account", (302, 200, 404, 200, 200, 404)),
    "account_timeline": ("account", (302, 302, 404, 302, 302, 404)),
    "activity_log": ("account", (302, 405, 405, 405, 405, 405)),
    "contact_create": ("account", (302, 200, 404, 200, 200, 404)),
    "team_add": ("account", (302, 200, 404, 200, 403, 404)),
    "account_reassign": ("account", (302, 403, 404, 200, 403, 404)),
    "deal_create": ("account", (302, 200, 404, 200, 403, 404)),
    "activity_detail": ("activity", (302, 200, 404, 200, 200, 404)),
    "contact_edit": ("contact", (302, 200, 404, 200, 200, 404)),
    "contact_left": ("contact", (302, 405, 405, 405, 405, 405)),
    "team_end": ("member", (302, 405, 405, 405, 405, 405)),
    "pipeline": (None, (302, 200, 200, 200, 200, 200)),
    "deal_detail": ("deal", (302, 200, 404, 200, 200, 404)),
    "deal_edit": ("deal", (302, 200, 404, 200, 403, 404)),
    "deal_move": ("deal", (302, 405, 405, 405, 405, 405)),
    "deal_win": ("deal", (302, 405, 405, 405, 405, 405)),
    "deal_lose": ("deal", (302, 405, 405, 405, 405, 405)),
    "book_reassign": (None, (302, 403, 403, 200, 403, 403)),
    "user_list": (None, (302, 403, 403, 200, 403, 403)),
    "user_deactivate": ("user", (302, 403, 403, 200, 403, 403)),
    "profile": (None, (302, 200, 200, 200, 200, 200)),
}


def test_every_named_crm_url_is_in_the_role_table() -> None:
    from crm import urls

    names = {p.name for p in urls.urlpatterns if getattr(p, "name", None)}
    assert names == set(ROLE_TABLE), f"missing from ROLE_TABLE: {names - set(ROLE_TABLE)}; stale: {set(ROLE_TABLE) - names}"


def test_each_role_gets_the_expected_answer_on_each_page(
    rep_objects: dict[str, Any], outsider: User, salesmgr: User, deliverymgr: User, delivery: User, rep2: User,
) -> None:
    users = {"anonymous": None, "rep": rep_objects["account"].owner, "outsider": outsider, "salesmgr": salesmgr,
             "deliverymgr": deliverymgr, "delivery": delivery}
    objects = {**rep_objects, "user": rep2}
    clients = {name: client_for(user) for name, user in users.items()}
    failures = []
    for name, (kind, expected) in ROLE_TABLE.items():
        path = url(name, objects[kind].pk) if kind else url(name)
        for persona, status in zip(PERSONAS, expected, strict=True):
            got = clients[persona].get(path).status_code
            if got != status:
                failures.append(f"{name} as {persona}: expected {status}, got {got}")
    assert not failures, "\n".join(failures)


# --- Auth pages -----------------------------------------------------------------------------


def test_the_login_page_logs_in_and_logout_is_a_post(rep: User) -> None:
    client = Client()
    assert client.get(reverse("login")).status_code == 200
    response = client.post(reverse("login"), {"username": "rep", "password": "keepwarm-test-pw"})
    assert response.status_code == 302 and response["Location"] == url("account_list")
    page = client.get(url("account_list")).content.decode()
    assert f'action="{reverse("logout")}"' in page and 'method="post"' in page
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(url("account_list")).status_code == 302


def test_repeated_failures_show_the_lockout_page_with_429(rep: User) -> None:
    client = Client()
    for _ in range(5):
        client.post(reverse("login"), {"username": "rep", "password": "wrong"})
    response = client.post(reverse("login"), {"username": "rep", "password": "keepwarm-test-pw"})
    assert response.status_code == 429
    assert b"Too many failed log-ins" in response.content


def test_the_password_change_pages_render(rep: User) -> None:
    client = client_for(rep)
    assert client.get(reverse("password_change")).status_code == 200
    response = client.post(
        reverse("password_change"),
        {"old_password": "keepwarm-test-pw", "new_password1": "a-Longer-new-pass-42", "new_password2": "a-Longer-new-pass-42"},
        follow=True,
    )
    assert b"Password changed" in response.content


def test_pages_carry_no_inline_script_or_style(rep: User, account: Account) -> None:
    body = client_for(rep).get(url("account_detail", account.pk)).content.decode()
    assert "<style" not in body and "style=" not in body
    assert "<script>" not in body and "onclick" not in body
    assert 'hx-headers=\'{"X-CSRFToken": "' in body


# --- Admin ----------------------------------------------------------------------------------


def test_the_user_admin_refuses_to_deactivate_an_owner(rep: User, account: Account) -> None:
    data = {"username": rep.username, "is_active": "", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"}
    form = KeepwarmUserChangeForm(instance=rep, data=data)
    assert not form.is_valid()
    assert "deactivate page" in str(form.errors["is_active"])
    assert url("user_deactivate", rep.pk) in str(form.errors["is_active"])


def test_the_admin_pages_render_for_a_superuser(account: Account, deal: Deal) -> None:
    root = User.objects.create_superuser("root", "root@vendor.example", "pw")
    client = client_for(root)
    for model in ("account", "contact", "deal", "ownershipchange", "activity", "accountteammember", "userprofile"):
        assert client.get(reverse(f"admin:crm_{model}_changelist")).status_code == 200, model
    assert client.get(reverse("admin:crm_deal_change", args=[deal.pk])).status_code == 200
    assert client.get(reverse("admin:auth_user_change", args=[account.owner_id])).status_code == 200


# --- Query budgets --------------------------------------------------------------------------


def test_the_accounts_list_query_count_does_not_grow_with_rows(rep: User, django_assert_max_num_queries: Any) -> None:
    for i in range(60):
        services.account_create(by=rep, name=f"Account {i:02d}")
    client = client_for(rep)
    with django_assert_max_num_queries(10):
        response = client.get(url("account_list"), {"threads": "single", "q": "Account"})
    assert len(response.context["page"].object_list) == 50


def test_the_account_page_query_count_does_not_grow_with_history(
    rep: User, rep2: User, account: Account, deal: Deal, django_assert_max_num_queries: Any,
) -> None:
    for i in range(4):
        services.contact_create(account=account, by=rep, first_name=f"Person {i}")
        services.deal_create(account=account, by=rep, name=f"Deal {i}", line_items=[{"name": "Thing", "quantity": 1, "unit_price": 5}])
    for i in range(60):
        services.activity_log(account=account, by=rep if i % 2 else rep2, kind="call", subject=f"Call {i}", deal=deal)
    client = client_for(rep)
    with django_assert_max_num_queries(14):
        response = client.get(url("account_detail", account.pk))
    assert len(response.context["page"].timeline) == 30


def test_the_pipeline_query_count_does_not_grow_with_deals(rep: User, account: Account, django_assert_max_num_queries: Any) -> None:
    for i in range(40):
        deal = services.deal_create(account=account, by=rep, name=f"Deal {i}", value="100")
        if i % 4 == 1:
            services.deal_move(deal=deal, by=rep, to="proposal")
        elif i % 4 == 2:
            flows.deal_win(deal=deal, by=rep)
    client = client_for(rep)
    with django_assert_max_num_queries(12):
        response = client.get(url("pipeline"))
    assert sum(c.count for c in response.context["columns"]) == 40


@pytest.mark.parametrize("template", ["403.html", "404.html", "500.html"])
def test_error_pages_render_without_a_request(template: str) -> None:
    from django.template.loader import get_template

    html = get_template(template).render({})
    assert "Keepwarm" in html and "<script>" not in html


def test_a_missing_page_shows_the_friendly_404(rep: User) -> None:
    response = client_for(rep).get(url("account_detail", 999999))
    assert response.status_code == 404
    assert b"not yours to see" in response.content
