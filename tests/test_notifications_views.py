"""The bell's pages: the header's count on every staff page (one capped, indexed query), its
panel, the page of past notifications, opening one (read, then its page, and only a page of
ours), marking all read, and the email choices."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from outbox.models import EmailOptOut, Notification
from tests.scenarios import client_for, pile_notifications, submit_deal


@pytest.fixture
def review(deal, rep, salesmgr, mailoutbox) -> Notification:
    """The sales manager's review request, sent through the outbox when the rep submitted."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        submit_deal(deal, rep=rep)
    return Notification.objects.get(user=salesmgr)


def _bell_queries(client: Any, path: str) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return [q["sql"] for q in queries.captured_queries if "outbox_notification" in q["sql"]]


def test_the_header_shows_the_unread_count_of_the_signed_in_user(review, salesmgr, rep):
    page = client_for(salesmgr).get(reverse("crm:account_list")).content.decode()
    assert 'class="bell-count" data-unread="1">1<' in page and "Notifications: 1 unread" in page
    assert "bell-count" not in client_for(rep).get(reverse("crm:account_list")).content.decode()
    assert "bell" not in client_for(None).get(reverse("login")).content.decode()


def test_the_count_stops_at_99_plus_and_costs_one_query_whatever_the_rows(salesmgr):
    client = client_for(salesmgr)
    pile_notifications(salesmgr, 3)
    few = _bell_queries(client, reverse("crm:account_list"))
    pile_notifications(salesmgr, 150)
    many = _bell_queries(client, reverse("crm:account_list"))
    assert len(few) == len(many) == 1
    page = client.get(reverse("crm:account_list")).content.decode()
    assert ">99+<" in page and "Notifications: 99+ unread" in page


def test_the_panel_shows_the_latest_few_and_the_page_pages_them(salesmgr, django_assert_max_num_queries):
    pile_notifications(salesmgr, 60)
    client = client_for(salesmgr)
    panel = client.get(reverse("notifications:bell"), HTTP_HX_REQUEST="true").content.decode()
    assert panel.count('class="notification is-unread"') == 8 and "Review request 59" in panel
    assert "Mark all as read" in panel
    with django_assert_max_num_queries(8):
        first = client.get(reverse("notifications:list")).content.decode()
    assert first.count("notification-open") == 25 and "Page 1 of 3" in first
    third = client.get(reverse("notifications:list"), {"page": 3}).content.decode()
    assert third.count("notification-open") == 10


def test_the_list_filters_unread_and_shows_only_ones_own(review, salesmgr, deliverymgr):
    Notification.objects.filter(pk=review.pk).update(read_at=timezone.now())
    client = client_for(salesmgr)
    assert review.title in client.get(reverse("notifications:list")).content.decode()
    unread = client.get(reverse("notifications:list"), {"show": "unread"}).content.decode()
    assert review.title not in unread and "Nothing unread" in unread
    assert review.title not in client_for(deliverymgr).get(reverse("notifications:list")).content.decode()


def test_opening_one_marks_it_read_and_lands_on_its_page(review, salesmgr):
    response = client_for(salesmgr).post(reverse("notifications:open", args=[review.pk]))
    assert response.status_code == 302 and response["Location"] == review.link
    review.refresh_from_db()
    assert review.read_at is not None
    page = client_for(salesmgr).get(reverse("crm:account_list")).content.decode()
    assert "bell-count" not in page


def test_someone_elses_notification_is_404_and_stays_unread(review, deliverymgr, rep):
    for user in (deliverymgr, rep):
        assert client_for(user).post(reverse("notifications:open", args=[review.pk])).status_code == 404
    assert client_for(deliverymgr).post(reverse("notifications:open", args=[999999])).status_code == 404
    review.refresh_from_db()
    assert review.read_at is None


def test_opening_is_a_post_and_anonymous_goes_to_the_login(review, salesmgr):
    assert client_for(salesmgr).get(reverse("notifications:open", args=[review.pk])).status_code == 405
    response = client_for(None).post(reverse("notifications:open", args=[review.pk]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert client_for(None).get(reverse("notifications:list")).status_code == 302


@pytest.mark.parametrize("link", ["https://evil.example/x", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"])
def test_a_link_off_our_site_never_redirects_there(review, salesmgr, link):
    Notification.objects.filter(pk=review.pk).update(link=link)
    response = client_for(salesmgr).post(reverse("notifications:open", args=[review.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("notifications:list")


def test_mark_all_read_marks_only_ones_own_and_goes_back(review, salesmgr, deliverymgr):
    pile_notifications(salesmgr, 3)
    pile_notifications(deliverymgr, 2)
    response = client_for(salesmgr).post(reverse("notifications:read_all"), {"next": "/accounts/"})
    assert response.status_code == 302 and response["Location"] == "/accounts/"
    assert not Notification.objects.filter(user=salesmgr, read_at__isnull=True).exists()
    assert Notification.objects.filter(user=deliverymgr, read_at__isnull=True).count() == 2
    response = client_for(salesmgr).post(reverse("notifications:read_all"), {"next": "https://evil.example/"})
    assert response["Location"] == reverse("notifications:list")


def test_the_email_choices_round_trip(rep):
    client = client_for(rep)
    page = client.get(reverse("notifications:email_choices")).content.decode()
    assert page.count('checked') == 10 and "Handover review requests" in page and "Check-up reminders" in page
    everything_but_the_digest = {
        key: "on" for key in ("review_requests", "acceptance", "sent_back", "assignments", "reminders",
                              "escalations", "signoffs", "customer_answers", "problems")
    }
    assert client.post(reverse("notifications:email_choices"), everything_but_the_digest).status_code == 302
    [row] = EmailOptOut.objects.filter(user=rep)
    assert row.topic == "digest"
    page = client.get(reverse("notifications:email_choices")).content.decode()
    assert page.count('checked') == 9
    client.post(reverse("notifications:email_choices"), everything_but_the_digest)  # saved unchanged
    assert list(EmailOptOut.objects.filter(user=rep)) == [row]


def test_the_profile_leads_to_the_email_choices(rep):
    page = client_for(rep).get(reverse("crm:profile")).content.decode()
    assert reverse("notifications:email_choices") in page


def test_the_admin_shows_whose_bell_a_notice_reached(review, salesmgr):
    from django.contrib.auth.models import User

    root = User.objects.create_superuser("root", "root@vendor.example", "pw")
    page = client_for(root).get(reverse("admin:outbox_notice_change", args=[review.notice_id])).content.decode()
    assert salesmgr.username in page and review.title in page and 'name="_save"' not in page
