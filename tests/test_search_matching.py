"""What a query finds, below the pages: core.search's reading of the query and of phone numbers,
and crm's `matching` QuerySet methods on PostgreSQL and SQLite."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from core import search as terms
from crm import selectors, services
from crm.models import Account, Contact, Deal

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="trigram similarity (typos) needs PostgreSQL's pg_trgm"
)
on_sqlite = pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite fallback")


@pytest.mark.parametrize("typed", ["+49 30 1234", "0049 30 1234", "030-1234", "(030) 1234", "030/1234", "030.1234"])
def test_every_common_notation_of_a_number_gives_the_national_digits(typed):
    assert "301234" in terms.phone_variants(typed)


def test_an_international_number_also_keeps_its_country_code():
    assert terms.phone_variants("+44 7700 90") == ["44770090", "770090"]
    assert terms.phone_variants("+1 212 555") == ["1212555", "212555"]
    assert terms.phone_variants("+353 1 234") == ["3531234", "1234"]


@pytest.mark.parametrize("typed", ["Acme", "12", "0-12", "anna@acme.example", "+", "()"])
def test_what_is_no_phone_number_gives_no_digits(typed):
    assert terms.phone_variants(typed) == []


@pytest.mark.parametrize(
    ("typed", "message"),
    [("", "Type something"), ("   ", "Type something"), ("\x00\x00", "Type something"), ("a", "at least 2"),
     ("!!", "at least 2"), ("x" * 201, "at most 200")],
)
def test_a_query_that_cannot_be_searched_for_says_why(typed, message):
    with pytest.raises(ValidationError, match=message):
        terms.clean_query(typed)


def test_a_query_loses_its_control_characters_and_extra_spaces():
    assert terms.clean_query("  Anna\x00\tSchmidt\n ") == "Anna Schmidt"


def test_highlighting_marks_each_word_and_keeps_the_rest():
    segments = terms.highlight("Anna Schmidt", "schm ann")
    assert [(s.text, s.match) for s in segments] == [("Ann", True), ("a ", False), ("Schm", True), ("idt", False)]
    assert terms.highlight("Anna Schmidt", "bruno") is None


def test_phone_highlighting_marks_the_matching_digits_in_the_stored_notation():
    segments = terms.highlight_phone("+49 30 1234 567", "030-1234")
    assert [(s.text, s.match) for s in segments] == [("+49 ", False), ("30 1234", True), (" 567", False)]


@pytest.fixture
def anna(account: Any, rep: Any) -> Contact:
    return services.contact_create(
        account=account, by=rep, first_name="Anna", last_name="Schmidt", email="anna.schmidt@acme.example",
        phone="+49 30 1234 567", title="Head of Operations",
    )


@pytest.mark.django_db
@pytest.mark.parametrize("typed", ["+49 30 1234", "030-1234", "(030) 1234", "0049301234", "1234 567"])
def test_a_contact_is_found_by_phone_in_any_notation(anna, typed):
    assert list(Contact.objects.matching(typed)) == [anna]


@pytest.mark.django_db
def test_a_contact_stored_in_national_notation_is_found_by_the_international_one(account, rep):
    bruno = services.contact_create(account=account, by=rep, first_name="Bruno", last_name="Keller", phone="030 9876 543")
    assert list(Contact.objects.matching("+49 30 9876")) == [bruno]
    assert list(Contact.objects.matching("(030) 9876-543")) == [bruno]


@pytest.mark.django_db
@pytest.mark.parametrize("typed", ["anna.schmidt@acme.example", "ANNA.SCHMIDT@", "schmidt@acme", "Anna Schmidt",
                                   "schmi", "anna schm", "head of operations"])
def test_a_contact_is_found_by_email_name_or_title(anna, typed):
    assert anna in Contact.objects.matching(typed)


@pytest.mark.django_db
def test_a_word_that_is_nowhere_finds_nothing(anna):
    assert not Contact.objects.matching("Zyx").exists()
    assert not Contact.objects.matching("Anna Zyx").exists()
    assert not Contact.objects.matching("555 999").exists()


@pytest.mark.django_db
@on_postgresql
def test_a_typo_in_a_name_still_finds_it_on_postgresql(anna, account, deal):
    assert anna in Contact.objects.matching("Schmitd")
    assert account in Account.objects.matching("Acme Robotcs")
    assert deal in Deal.objects.matching("Acmee line")


@pytest.mark.django_db
@on_sqlite
def test_on_sqlite_a_typo_is_not_found_but_partial_words_are(anna, account):
    assert not Contact.objects.matching("Schmitd").exists()
    assert anna in Contact.objects.matching("chmid")
    assert account in Account.objects.matching("bot")


@pytest.mark.django_db
def test_accounts_match_by_name_city_or_industry_and_deals_by_name(account, other_account, deal):
    assert list(Account.objects.matching("robot")) == [account]
    assert list(Account.objects.matching("berlin")) == [other_account]
    assert list(Account.objects.matching("manufact")) == [account]
    assert list(Deal.objects.matching("line 2")) == [deal]


@pytest.mark.django_db
@pytest.mark.parametrize("typed", ["'", '"', "&|!:*", "\\", "a\\b", "%_%", "Acme'; drop table x;--", "(((", "x" * 200,
                                   "ÄÖÜ ß", "💥"])
def test_odd_input_finds_nothing_wrong(account, typed):
    list(Account.objects.matching(typed))
    list(Contact.objects.matching(typed))
    list(Deal.objects.matching(typed))


@pytest.mark.django_db
def test_like_wildcards_match_nothing_by_themselves(account):
    # Punctuation around words is dropped, so "%" and "_" never reach LIKE as wildcards.
    assert not Account.objects.matching("%").exists()
    assert not Account.objects.matching("_%_").exists()
    with pytest.raises(ValidationError):
        terms.clean_query("%%")


@pytest.mark.django_db
def test_the_accounts_list_searches_through_matching(rep, account, other_account):
    names = [a.name for a in selectors.account_list(user=rep, search="lyon")]
    assert names == ["Acme Robotics"]
    assert list(selectors.account_list(user=rep, search="globex")) == []  # rep2's, not visible


def plan(qs: Any, *, ordered: bool = False) -> str:
    sql, params = (qs if ordered else qs.order_by()).query.sql_with_params()
    with connection.cursor() as cursor:
        # Tests hold a few rows, where a sequential scan is cheapest: without it the planner
        # shows which index it can use for the query as written.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.django_db
@on_postgresql
def test_the_migrations_indexes_serve_the_queries_as_written(rep, anna, deal):
    from crm.models import Activity
    from delivery.models import Problem
    from handover.models import Promise
    from search.selectors import _problems, _text_matches

    assert "account_name_trgm" in plan(Account.objects.matching("robotcs"))
    assert "contact_email_trgm" in plan(Contact.objects.matching("anna.schmidt@acme"))
    assert "contact_phone_digits_trgm" in plan(Contact.objects.matching("030-1234"))
    assert "contact_last_name_trgm" in plan(Contact.objects.matching("schmi"))
    assert "deal_name_trgm" in plan(Deal.objects.matching("line"))
    assert "activity_text_fts" in plan(_text_matches(Activity.objects.all(), "quokka", ("subject", "body")))
    assert "promise_text_fts" in plan(_text_matches(Promise.objects.all(), "quokka", ("description", "source_reference")))
    problems = plan(_problems(Problem.objects.all(), "screens"))
    assert "problem_title_trgm" in problems and "problem_text_fts" in problems


@pytest.mark.django_db
@on_postgresql
def test_a_searched_accounts_list_is_not_read_in_name_order(salesmgr, account):
    # Walking the name index testing each row would read every account for a word found nowhere.
    page = plan(selectors.account_list(user=salesmgr, search="willow")[:50], ordered=True)
    assert "Sort Key: (lower(" in page and "Index Scan using account_name " not in page, page
