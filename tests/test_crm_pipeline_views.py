"""The pipeline board: a card dropped on another stage (the same endpoint and service as the
dropdown), "Show more" per stage on a keyset, and the deal page's stage bar."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from crm import selectors, services
from crm.models import Account, Activity, Deal, PipelineTotal
from flows import actions as flows
from tests.scenarios import HTMX, client_for
from tests.scenarios import crm_url as url

pytestmark = pytest.mark.django_db


def _deals(account: Account, by: User, n: int, stage: str = "lead") -> list[Deal]:
    deals = []
    for i in range(n):
        deal = services.deal_create(account=account, by=by, name=f"Board deal {i:02d}", value="100")
        if stage != "lead":
            services.deal_move(deal=deal, by=by, to=stage)
        deals.append(deal)
    return deals


def _moves(deal: Deal) -> int:
    return Activity.objects.filter(deal=deal, event_type="deal.moved").count()


# --- A card dropped on another stage -------------------------------------------------------------


def test_a_dropped_card_moves_the_deal_and_answers_the_new_column_totals(rep: User, deal: Deal) -> None:
    response = client_for(rep).post(url("deal_move", deal.pk), {"to": "negotiation", "from_stage": "lead"}, **HTMX)
    assert response.status_code == 200
    deal.refresh_from_db()
    assert deal.stage == "negotiation"
    body = response.content.decode()
    # Every column's totals, for the board to put in place; the moved deal's value is in its new column's.
    assert [c.stage for c in response.context["columns"]] == [s for s, _ in Deal.Stage.choices]
    assert 'id="board-stats-negotiation"' in body and 'id="board-stats-lead"' in body
    negotiation = {c.stage: c for c in response.context["columns"]}["negotiation"]
    assert negotiation.count == 1 and negotiation.totals == [("EUR", 48000)]
    assert {c.stage: c for c in response.context["columns"]}["lead"].count == 0
    history = Activity.objects.get(deal=deal, event_type="deal.moved")
    assert history.subject == "Deal Acme line 2: Lead -> Negotiation"
    assert "Deal moved to" not in client_for(rep).get(url("pipeline")).content.decode()  # no message left over


def test_a_drop_from_a_stale_board_is_refused_and_nothing_moves(rep: User, presales: User, deal: Deal) -> None:
    # Given presales moved the deal after rep's board was drawn
    services.deal_move(deal=deal, by=presales, to="proposal")
    # When rep drops the card they still see at "lead"
    response = client_for(rep).post(url("deal_move", deal.pk), {"to": "negotiation", "from_stage": "lead"}, **HTMX)
    # Then the move is refused with why, and the deal stays where presales put it
    assert response.status_code == 409
    assert "was moved to Proposal meanwhile" in response.content.decode()
    deal.refresh_from_db()
    assert deal.stage == "proposal" and _moves(deal) == 1
    assert PipelineTotal.objects.get(stage="proposal").deal_count == 1
    assert not PipelineTotal.objects.filter(stage="negotiation", deal_count__gt=0).exists()


def test_a_drop_on_an_unknown_stage_says_so_and_saves_nothing(rep: User, deal: Deal) -> None:
    response = client_for(rep).post(url("deal_move", deal.pk), {"to": "archived", "from_stage": "lead"}, **HTMX)
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    deal.refresh_from_db()
    assert deal.stage == "lead" and _moves(deal) == 0


def test_the_dropdown_from_the_board_returns_to_the_board(rep: User, deal: Deal) -> None:
    board = url("pipeline") + "?mine=1"
    response = client_for(rep).post(url("deal_move", deal.pk), {"to": "qualified", "from_stage": "lead", "next": board})
    assert response.status_code == 302 and response["Location"] == board
    deal.refresh_from_db()
    assert deal.stage == "qualified"


def test_the_dropdown_does_not_follow_a_next_to_another_site(rep: User, deal: Deal) -> None:
    response = client_for(rep).post(url("deal_move", deal.pk), {"to": "qualified", "next": "https://evil.example/"})
    assert response["Location"] == url("deal_detail", deal.pk)


def test_a_drop_by_someone_outside_the_account_is_a_404(rep2: User, deal: Deal) -> None:
    response = client_for(rep2).post(url("deal_move", deal.pk), {"to": "proposal", "from_stage": "lead"}, **HTMX)
    assert response.status_code == 404
    deal.refresh_from_db()
    assert deal.stage == "lead"


def test_a_drop_by_a_role_that_does_not_sell_is_a_403(deliverymgr: User, deal: Deal) -> None:
    response = client_for(deliverymgr).post(url("deal_move", deal.pk), {"to": "proposal", "from_stage": "lead"}, **HTMX)
    assert response.status_code == 403
    deal.refresh_from_db()
    assert deal.stage == "lead" and _moves(deal) == 0


def test_only_the_cards_the_user_may_move_can_be_dragged(
    rep: User, deliverymgr: User, deal: Deal, account: Account,
) -> None:
    won = services.deal_create(account=account, by=rep, name="Already won", value="5")
    flows.deal_win(deal=won, by=rep)
    seller = client_for(rep).get(url("pipeline")).content.decode()
    assert seller.count('draggable="true"') == 1  # the open deal; a won card is reopened from its page
    assert f'data-move-url="{url("deal_move", deal.pk)}"' in seller
    assert 'id="board-win"' in seller and 'id="board-lose"' in seller
    viewer = client_for(deliverymgr).get(url("pipeline")).content.decode()
    assert "Acme line 2" in viewer and 'draggable="true"' not in viewer and "card-move" not in viewer


def test_the_board_loads_its_script_from_our_static_files(rep: User, deal: Deal) -> None:
    body = client_for(rep).get(url("pipeline")).content.decode()
    assert '<script src="/static/crm/pipeline.js" defer></script>' in body
    assert "<script>" not in body


# --- Show more -----------------------------------------------------------------------------------


def test_show_more_loads_the_next_cards_of_a_column_after_the_last_one(rep: User, account: Account) -> None:
    deals = _deals(account, rep, 30)
    newest_first = sorted(deals, key=lambda d: (d.created_at, d.pk), reverse=True)
    client = client_for(rep)
    board = client.get(url("pipeline"))
    lead = {c.stage: c for c in board.context["columns"]}["lead"]
    assert [d.pk for d in lead.deals] == [d.pk for d in newest_first[:12]]
    assert lead.more == 18
    assert "Show more (18 more)" in board.content.decode()

    second = client.get(url("pipeline"), {"stage": "lead", "after": lead.cursor}, **HTMX)
    assert second.status_code == 200
    page = second.context["column"]
    assert [d.pk for d in page.deals] == [d.pk for d in newest_first[12:24]]
    assert page.more == 6 and "Show more (6 more)" in second.content.decode()
    assert "<html" not in second.content.decode()  # the cards alone, for htmx to put in place

    third = client.get(url("pipeline"), {"stage": "lead", "after": page.cursor}, **HTMX)
    assert [d.pk for d in third.context["column"].deals] == [d.pk for d in newest_first[24:]]
    assert third.context["column"].more == 0 and "Show more" not in third.content.decode()


def test_show_more_keeps_deals_with_the_same_creation_time_in_order(rep: User, account: Account) -> None:
    deals = _deals(account, rep, 5)
    same = deals[0].created_at
    Deal.objects.filter(pk__in=[d.pk for d in deals]).update(created_at=same)
    first = selectors.pipeline(user=rep, per_stage=2)[0]
    rest = selectors.pipeline_more(user=rep, stage="lead", after=first.cursor, per_stage=2)
    last = selectors.pipeline_more(user=rep, stage="lead", after=rest.cursor, per_stage=2)
    shown = [d.pk for d in first.deals + rest.deals + last.deals]
    assert shown == sorted((d.pk for d in deals), reverse=True)
    assert (first.more, rest.more, last.more) == (3, 1, 0)


def test_without_script_show_more_is_a_link_to_the_board_continuing_the_column(rep: User, account: Account) -> None:
    deals = _deals(account, rep, 14)
    client = client_for(rep)
    lead = {c.stage: c for c in client.get(url("pipeline")).context["columns"]}["lead"]
    response = client.get(url("pipeline"), {"stage": "lead", "after": lead.cursor})
    columns = {c.stage: c for c in response.context["columns"]}
    assert [d.pk for d in columns["lead"].deals] == [deals[1].pk, deals[0].pk]
    assert "Back to the latest lead deals" in response.content.decode()


def test_show_more_never_reveals_another_reps_deals(rep: User, rep2: User, account: Account, other_account: Account) -> None:
    _deals(account, rep, 13)
    theirs = services.deal_create(account=other_account, by=rep2, name="Globex secret", value="1")
    lead = {c.stage: c for c in selectors.pipeline(user=rep)}["lead"]
    more = client_for(rep).get(url("pipeline"), {"stage": "lead", "after": lead.cursor}, **HTMX)
    assert "Globex secret" not in more.content.decode()
    # A cursor naming a deal the user cannot see starts the column from the top, telling nothing.
    hidden = client_for(rep).get(url("pipeline"), {"stage": "lead", "after": theirs.pk}, **HTMX)
    assert len(hidden.context["column"].deals) == 12 and "Globex secret" not in hidden.content.decode()


def test_the_more_count_stops_at_the_cap(rep: User, account: Account, monkeypatch: Any) -> None:
    from crm import selectors as crm_selectors

    _deals(account, rep, 8)
    monkeypatch.setattr(crm_selectors, "COUNT_CAP", 3)  # the cap, not the counting: 10,000 deals would be slow
    first = crm_selectors.pipeline(user=rep, per_stage=2)[0]
    more = crm_selectors.pipeline_more(user=rep, stage="lead", after=first.cursor, per_stage=2)
    assert more.more == 4 and more.more_label == "3+"


@pytest.mark.parametrize("params", [
    {"stage": "lead", "after": "abc"}, {"stage": "lead", "after": "99999999999999999999"},
    {"stage": "nope", "after": "1"}, {"stage": "lead", "after": "-4"},
])
def test_a_bad_cursor_shows_the_column_from_its_start(rep: User, account: Account, params: dict[str, str]) -> None:
    _deals(account, rep, 3)
    response = client_for(rep).get(url("pipeline"), params, **HTMX)
    assert response.status_code == 200
    assert b"Board deal 02" in response.content


# --- Query budgets -------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["rep", "salesmgr"])
def test_the_board_and_show_more_cost_the_same_queries_with_many_deals(
    request: Any, who: str, rep: User, account: Account,
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    user = request.getfixturevalue(who)
    client = client_for(user)

    def counts() -> tuple[int, int]:
        client.get(url("pipeline"))  # a first request warms the session and the role cache
        with CaptureQueriesContext(connection) as board:
            response = client.get(url("pipeline"))
        lead = {c.stage: c for c in response.context["columns"]}["lead"]
        with CaptureQueriesContext(connection) as more:
            client.get(url("pipeline"), {"stage": "lead", "after": lead.cursor}, **HTMX)
        return len(board), len(more)

    # Enough for a third page in each open column, then many more in every column.
    for stage in ("lead", "qualified", "proposal", "negotiation"):
        _deals(account, rep, 26, stage=stage)
    flows.deal_win(deal=_deals(account, rep, 1)[0], by=rep)
    services.deal_lose(deal=_deals(account, rep, 1)[0], by=rep, reason="Budget")
    few = counts()
    for stage in ("lead", "qualified", "proposal", "negotiation"):
        _deals(account, rep, 20, stage=stage)
    for deal in Deal.objects.filter(stage="negotiation")[:15]:
        flows.deal_win(deal=deal, by=rep)
    for deal in Deal.objects.filter(stage="proposal")[:15]:
        services.deal_lose(deal=deal, by=rep, reason="Budget")
    many = counts()
    assert many == few, f"board, show more: {few} queries with 106 deals, {many} with 186"
    assert few[0] <= 11 and few[1] <= 7


# --- The deal page's stage bar -------------------------------------------------------------------


def test_the_stage_bar_offers_each_other_open_stage_as_a_move(rep: User, deal: Deal) -> None:
    services.deal_move(deal=deal, by=rep, to="proposal")
    response = client_for(rep).get(url("deal_detail", deal.pk))
    body = response.content.decode()
    bar = body[body.index('class="stagebar"'):body.index("</nav>", body.index('class="stagebar"'))]
    for stage in ("lead", "qualified", "negotiation"):
        assert f'name="to" value="{stage}"' in bar
    assert 'name="to" value="proposal"' not in bar and 'aria-current="step"' in bar
    assert 'href="#close-deal"' in bar and 'href="#lose-deal"' in bar  # won and lost open the forms
    stages = {s["value"]: s for s in response.context["stages"]}
    assert stages["proposal"]["current"] and stages["lead"]["passed"] and not stages["negotiation"]["passed"]


def test_clicking_a_stage_on_the_bar_moves_the_deal(rep: User, deal: Deal) -> None:
    client = client_for(rep)
    response = client.post(url("deal_move", deal.pk), {"to": "negotiation", "from_stage": "lead"})
    assert response.status_code == 302 and response["Location"] == url("deal_detail", deal.pk)
    page = client.get(response["Location"]).content.decode()
    assert "Deal moved to Negotiation." in page and "Lead -&gt; Negotiation" in page


def test_a_stale_stage_bar_click_is_refused_with_a_message(rep: User, presales: User, deal: Deal) -> None:
    services.deal_move(deal=deal, by=presales, to="qualified")
    response = client_for(rep).post(url("deal_move", deal.pk), {"to": "negotiation", "from_stage": "lead"}, follow=True)
    assert "was moved to Qualified meanwhile" in response.content.decode()
    deal.refresh_from_db()
    assert deal.stage == "qualified"


def test_the_stage_bar_is_not_clickable_for_those_who_may_not_move_the_deal(deliverymgr: User, deal: Deal) -> None:
    body = client_for(deliverymgr).get(url("deal_detail", deal.pk)).content.decode()
    bar = body[body.index('class="stagebar"'):body.index("</nav>", body.index('class="stagebar"'))]
    assert "Negotiation" in bar and "<form" not in bar and "<a " not in bar


def test_a_closed_deals_bar_shows_where_it_ended_without_moves(rep: User, deal: Deal) -> None:
    flows.deal_win(deal=deal, by=rep)
    response = client_for(rep).get(url("deal_detail", deal.pk))
    body = response.content.decode()
    bar = body[body.index('class="stagebar"'):body.index("</nav>", body.index('class="stagebar"'))]
    assert "<form" not in bar and "stagebar-won is-current" in bar
    assert all(s["passed"] for s in response.context["stages"] if s["value"] in Deal.OPEN_STAGES)


def test_a_lost_deals_bar_marks_no_stage_as_passed(rep: User, deal: Deal) -> None:
    services.deal_lose(deal=deal, by=rep, reason="Budget")
    stages = client_for(rep).get(url("deal_detail", deal.pk)).context["stages"]
    assert [s["value"] for s in stages if s["current"]] == ["lost"] and not any(s["passed"] for s in stages)
