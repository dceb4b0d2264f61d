"""crm's account pages: the list, creating and editing, the account page and its timeline."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from crm import services
from crm.models import Account, AccountTeamMember, Activity, Deal, OwnershipChange
from tests.scenarios import client_for
from tests.scenarios import crm_url as url

pytestmark = pytest.mark.django_db


HTMX = {"HTTP_HX_REQUEST": "true"}


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
