"""The header search box and its results page (`/search/?q=`)."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from crm import services
from crm.models import Account, Contact
from handover import services as handover_services
from search import selectors
from tests.scenarios import body, client_for, queries, raise_problem

pytestmark = pytest.mark.django_db
URL = reverse("search:results")


def groups(response: Any) -> dict[str, selectors.Group]:
    return {g.kind: g for g in response.context["found"].groups}


def titles(response: Any, kind: str) -> list[str]:
    return [r.title for r in groups(response)[kind].results]


@pytest.fixture
def quokka_world(account: Account, deal: Any, rep: Any) -> dict[str, Any]:
    """One row of every kind with the word "quokka" in it, on rep's account."""
    return {
        "account": services.account_create(by=rep, name="Quokka Freight", city="Perth"),
        "contact": services.contact_create(account=account, by=rep, first_name="Kim", last_name="Lee",
                                           email="kim@quokka.example"),
        "deal": services.deal_create(account=account, by=rep, name="Quokka rollout", value="1000", currency="EUR"),
        "promise": handover_services.promise_record(deal=deal, by=rep, kind="deliverable",
                                                    description="Quokka integration live by May", source="call"),
        "problem": raise_problem(account, rep, title="Quokka screens are slow"),
        "activity": services.activity_log(account=account, by=rep, kind="call", subject="Called about the quokka",
                                          body="They want the quokka module."),
    }


def test_every_kind_is_found_grouped_and_says_why(rep, quokka_world):
    response = client_for(rep).get(URL, {"q": "quokka"})
    assert response.status_code == 200
    found = groups(response)
    assert list(found) == ["accounts", "contacts", "deals", "promises", "problems", "activities"]
    w = quokka_world
    expected = {
        "accounts": (w["account"].pk, "name matches", reverse("crm:account_detail", args=[w["account"].pk])),
        "contacts": (w["contact"].pk, "email matches", reverse("crm:account_detail", args=[w["contact"].account_id])),
        "deals": (w["deal"].pk, "name matches", reverse("crm:deal_detail", args=[w["deal"].pk])),
        "promises": (w["promise"].pk, "promise matches", reverse("handover:deal_promises", args=[w["promise"].deal_id])),
        "problems": (w["problem"].pk, "title matches", reverse("delivery:problem_detail", args=[w["problem"].pk])),
        "activities": (w["activity"].pk, "subject matches", reverse("crm:activity_detail", args=[w["activity"].pk])),
    }
    for kind, (pk, reason, url) in expected.items():
        result = next(r for r in found[kind].results if r.pk == pk)
        assert (result.reason, result.url) == (reason, url), kind
        assert any(s.match and s.text.lower() == "quokka" for s in result.matched), kind
        if kind != "activities":  # the timeline also holds "Deal Quokka rollout opened", ...
            assert found[kind].count == 1, kind
    assert found["activities"].results[0].pk == w["activity"].pk  # subject and text: the best match
    assert "email matches:</span> kim@<mark>quokka</mark>.example" in body(response)


@pytest.mark.parametrize("typed", ["+49 30 1234", "030-1234", "(030) 1234"])
def test_a_phone_fragment_in_any_notation_finds_the_contact_and_leads_to_the_account(rep, account, typed):
    anna = services.contact_create(account=account, by=rep, first_name="Anna", last_name="Schmidt",
                                   phone="+49 30 1234 567")
    response = client_for(rep).get(URL, {"q": typed})
    [result] = groups(response)["contacts"].results
    assert (result.pk, result.reason, result.title) == (anna.pk, "phone matches", "Anna Schmidt")
    assert result.url == reverse("crm:account_detail", args=[account.pk])
    assert "30 1234</mark> 567" in body(response)


def test_the_exact_name_comes_before_names_that_start_with_it_and_those_before_the_rest(rep):
    for name in ["Big Falcon Co", "Falcon Freight", "Falcon", "Old Falcon Freight"]:
        services.account_create(by=rep, name=name)
    response = client_for(rep).get(URL, {"q": "falcon"})
    ranked = titles(response, "accounts")
    assert ranked[:2] == ["Falcon", "Falcon Freight"]
    assert set(ranked[2:]) == {"Big Falcon Co", "Old Falcon Freight"}


def test_a_rep_does_not_find_another_teams_rows_and_the_counts_do_not_reveal_them(rep, rep2, account, other_account):
    for i in range(8):
        services.account_create(by=rep2, name=f"Globex branch {i}")
    services.account_create(by=rep, name="Globex mine")
    response = client_for(rep).get(URL, {"q": "globex"})
    found = groups(response)
    assert titles(response, "accounts") == ["Globex mine"]
    assert found["accounts"].count == 1 and not found["accounts"].has_more
    assert found["contacts"].results == []  # Greta Klein at greta@globex.example is rep2's
    assert "Greta" not in body(response) and "branch" not in body(response)
    # rep2 sees their own, capped count included
    theirs = groups(client_for(rep2).get(URL, {"q": "globex"}))["accounts"]
    assert theirs.count == 9 and theirs.has_more


def test_the_count_is_read_from_the_candidates_exact_below_the_cap_and_capped_above(rep, monkeypatch):
    # The count has no query of its own: the first CANDIDATES matches are all of them when fewer
    # are found, and more than COUNT_CAP otherwise (which needs CANDIDATES > COUNT_CAP).
    assert selectors.CANDIDATES > selectors.COUNT_CAP
    monkeypatch.setattr(selectors, "COUNT_CAP", 3)
    monkeypatch.setattr(selectors, "CANDIDATES", 4)
    for i in range(3):
        services.account_create(by=rep, name=f"Wombat {i}")
    exact = groups(client_for(rep).get(URL, {"q": "wombat"}))["accounts"]
    assert exact.count == 3 and not exact.capped
    for i in range(3, 6):
        services.account_create(by=rep, name=f"Wombat {i}")
    capped = groups(client_for(rep).get(URL, {"q": "wombat"}))["accounts"]
    assert capped.count == 4 and capped.capped and capped.count_label == "more than 3"


def test_a_name_that_starts_with_the_query_is_found_beyond_the_candidates(rep, monkeypatch):
    monkeypatch.setattr(selectors, "CANDIDATES", 3)
    services.account_create(by=rep, name="Numbat")  # the oldest: not among the first candidates
    for i in range(5):
        services.account_create(by=rep, name=f"Big Numbat {i}")
    response = client_for(rep).get(URL, {"q": "numbat"})
    assert titles(response, "accounts")[0] == "Numbat"


def test_a_manager_finds_every_team_s_rows(salesmgr, account, other_account):
    response = client_for(salesmgr).get(URL, {"q": "globex"})
    assert titles(response, "accounts") == ["Globex"]
    assert titles(response, "contacts") == ["Greta Klein"]


def test_archived_and_merged_accounts_and_contacts_are_not_found(rep, account):
    survivor = services.account_create(by=rep, name="Acme Holdings")
    Account.objects.filter(pk=account.pk).update(merged_into=survivor)
    archived = services.account_create(by=rep, name="Acme Archive")
    Account.objects.filter(pk=archived.pk).update(archived_at=timezone.now())
    alice = Contact.objects.get(first_name="Alice")
    Contact.objects.filter(pk=alice.pk).update(archived_at=timezone.now())
    response = client_for(rep).get(URL, {"q": "acme"})
    assert titles(response, "accounts") == ["Acme Holdings"]
    assert "Alice Martin" not in titles(response, "contacts")


def test_more_of_a_kind_links_to_its_list_or_to_this_page_with_that_kind(rep, account):
    for i in range(7):
        services.account_create(by=rep, name=f"Zephyr {i}")
        services.contact_create(account=account, by=rep, first_name="Zephyr", last_name=f"Number {i}")
    client = client_for(rep)
    response = client.get(URL, {"q": "zephyr"})
    found = groups(response)
    assert len(found["accounts"].results) == selectors.PER_KIND and found["accounts"].count == 7
    assert found["accounts"].more_url == reverse("crm:account_list") + "?q=zephyr"
    html = body(response)
    assert "more accounts…" in html and "more contacts…" in html
    # Contacts and deals have lists of their own, which take the same q.
    assert found["contacts"].more_url == reverse("crm:contact_list") + "?q=zephyr"
    more = client.get(found["contacts"].more_url)
    assert more.status_code == 200 and len(more.context["page"].object_list) == 7
    # The kinds with no list of their own show more of that kind on this page.
    for i in range(7):
        services.activity_log(account=account, by=rep, kind="note", subject=f"Zephyr call {i}")
    timeline = groups(client.get(URL, {"q": "zephyr"}))["activities"]
    more = client.get(timeline.more_url)
    assert more.status_code == 200 and list(groups(more)) == ["activities"]
    assert {f"Zephyr call {i}" for i in range(7)} <= {r.title for r in groups(more)["activities"].results}


@pytest.mark.parametrize(
    ("typed", "message"),
    [("", "Type something to search for."), ("a", "Type at least 2 letters or digits"),
     ("x" * 201, "Search for at most 200 characters."), ("!?", "Type at least 2")],
)
def test_a_query_that_cannot_be_searched_says_why_on_the_page(rep, typed, message):
    response = client_for(rep).get(URL, {"q": typed})
    assert response.status_code == 200
    assert message in body(response)
    assert response.context["found"] is None


def test_the_page_without_a_query_shows_just_the_box(rep):
    response = client_for(rep).get(URL)
    assert response.status_code == 200
    assert response.context["found"] is None


@pytest.mark.parametrize(
    "typed",
    ["'", '"quoted"', "&|!:*", "a & b | !c", "foo:*", "\\", "a\\\\b", "\x00abc\x00", "<script>", "%_%",
     "x" * 10_000, "Ω≈ç√", "😀😀", "(030)", "+", "0" * 50, "a:b:c", "'':*", "select * from crm_account"],
)
def test_odd_input_never_fails(rep, account, typed):
    response = client_for(rep).get(URL, {"q": typed})
    assert response.status_code == 200


def test_user_text_is_escaped_never_marked_safe(rep):
    services.account_create(by=rep, name="<b>Bold</b> & Sons")
    html = body(client_for(rep).get(URL, {"q": "bold"}))
    assert "<b>Bold" not in html
    assert "&lt;b&gt;<mark>Bold</mark>&lt;/b&gt; &amp; Sons" in html


def test_an_unknown_kind_is_a_message_not_an_error(rep):
    response = client_for(rep).get(URL, {"q": "acme", "kind": "nonsense"})
    assert response.status_code == 200
    assert response.context["found"] is None


def test_the_page_needs_a_login_and_a_get(rep):
    assert client_for(None).get(URL, {"q": "acme"}).status_code == 302
    assert client_for(rep).post(URL, {"q": "acme"}).status_code == 405


def test_the_results_page_takes_the_same_queries_whatever_the_data(rep, account, deal):
    def add(n: int) -> None:
        for i in range(n):
            a = services.account_create(by=rep, name=f"Nimbus {i}")
            services.contact_create(account=a, by=rep, first_name="Nimbus", last_name=f"Person {i}",
                                    phone=f"+49 40 555 {i:03}")
            d = services.deal_create(account=a, by=rep, name=f"Nimbus deal {i}", value="10", currency="EUR")
            handover_services.promise_record(deal=d, by=rep, kind="deliverable", description=f"Nimbus {i}",
                                             source="call")
            raise_problem(a, rep, title=f"Nimbus problem {i}")

    client = client_for(rep)
    add(selectors.PER_KIND + 1)
    few = queries(client, URL, q="nimbus")
    add(10)
    many = queries(client, URL, q="nimbus")
    assert many == few
    assert many <= 32


def test_the_search_box_is_in_the_header_of_staff_pages(rep, account):
    html = body(client_for(rep).get(reverse("crm:account_list")))
    assert 'id="topsearch-q"' in html and 'action="/search/"' in html
    assert "search/header.js" in html
    # and keeps the query on the results page
    assert 'value="acme"' in body(client_for(rep).get(URL, {"q": "acme"})).split('id="topsearch-q"')[1][:40]


def test_there_is_no_search_box_for_anonymous_people_or_on_customer_pages(rep, account):
    assert 'id="topsearch-q"' not in body(client_for(None).get(reverse("login")))
    # A staff member signed in who opens a customer page sees the customer's page, no staff header.
    response = client_for(rep).get(reverse("delivery:portal", args=[account.pk]))
    assert 'id="topsearch-q"' not in body(response)
