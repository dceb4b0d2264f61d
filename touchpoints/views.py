"""The staff pages of check-ups: "My week" with the in-place outcome, skip, cancel and
reschedule actions, the managers' team calendar and the private calendar feed's settings.

Same rules as crm.views and delivery.views: objects come through touchpoints.permissions (404
for what the user may not see), role checks answer 403, writes go only through
touchpoints.services (field messages from their ValidationError, 409 from their Conflict). GET
never changes anything; every action URL takes POST only. Times show, and typed times are read,
in the signed-in user's time zone (their profile).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.csv_export import EXPORT_CHUNK, filename, streamed_csv
from core.exceptions import Conflict
from core.http import is_htmx
from core.http import next_url as _next
from core.names import name_of, person_fields
from crm.forms import add_service_errors
from touchpoints import permissions, selectors, services
from touchpoints.forms import OutcomeForm, ReasonForm, RescheduleForm, row_auto_id
from touchpoints.models import CalendarFeed, Touchpoint
from touchpoints.permissions import TEAMS

# --- Small helpers --------------------------------------------------------------------------



def _week_url(touchpoint: Touchpoint) -> str:
    return reverse("touchpoints:my_week") + f"#touchpoint-{touchpoint.pk}"



def _when(moment: datetime) -> str:
    return date_format(timezone.localtime(moment), "D j M, H:i")


def attach_forms(touchpoint: Touchpoint, user: Any, **bound: Form) -> Touchpoint:
    """The row's small forms (unbound unless a failed POST bound one), when the user may act."""
    can_act = touchpoint.state == Touchpoint.State.SCHEDULED and permissions.can_work(user, touchpoint)
    touchpoint.can_act = can_act  # type: ignore[attr-defined]
    if not can_act:
        return touchpoint
    pk = touchpoint.pk
    touchpoint.outcome_form = bound.get("outcome") or OutcomeForm(  # type: ignore[attr-defined]
        auto_id=row_auto_id(pk, "outcome"), kind=touchpoint.kind,
    )
    touchpoint.reschedule_form = bound.get("reschedule") or RescheduleForm(  # type: ignore[attr-defined]
        auto_id=row_auto_id(pk, "reschedule"), initial={"due_at": touchpoint.due_at}
    )
    touchpoint.skip_form = bound.get("skip") or ReasonForm(  # type: ignore[attr-defined]
        auto_id=row_auto_id(pk, "skip"), label="Why is it skipped?"
    )
    touchpoint.cancel_form = bound.get("cancel") or ReasonForm(  # type: ignore[attr-defined]
        auto_id=row_auto_id(pk, "cancel"), label="Why is it cancelled?"
    )
    return touchpoint


# --- My week --------------------------------------------------------------------------------


def _week_owner(request: HttpRequest) -> Any:
    """The signed-in user, or (for managers and administrators) the person in ?user=."""
    user: Any = request.user
    wanted = request.GET.get("user")
    if not wanted or wanted == str(user.pk):
        return user
    permissions.require_can_see_others_weeks(user)
    try:
        return get_user_model().objects.get(pk=int(wanted))
    except (ValueError, OverflowError, get_user_model().DoesNotExist):
        raise Http404("No such person.") from None


@login_required
@require_GET
def my_week(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    owner = _week_owner(request)
    # The viewer's zone (the middleware's), also on another person's week: "today" is the viewer's.
    zone = timezone.get_current_timezone()
    now = timezone.now()
    week = selectors.week_of(viewer=user, owner=owner, now=now, zone=zone)
    for touchpoint in [*week.now_first, *week.later, *week.next_week]:
        attach_forms(touchpoint, user)
    sees_others = permissions.can_see_others_weeks(user)
    return render(
        request, "touchpoints/my_week.html",
        {
            "week": week, "owner": owner, "is_mine": owner.pk == user.pk, "zone": zone,
            "people": selectors.people_to_pick() if sees_others else [],
            "next": request.get_full_path(),
        },
    )


TOUCHPOINT_CSV_HEADER = [
    "Check-up", "Kind", "State", "Channel", "Account", "Contact", "Due", "Assigned to", "Closed", "Satisfaction",
]


def _touchpoint_csv(name: str, touchpoints: QuerySet[Touchpoint]) -> HttpResponseBase:
    """Check-ups as CSV, labels rather than codes, times in the viewer's zone (streamed_csv keeps
    it), streamed in chunks."""
    rows = touchpoints.select_related(None).select_related("account", "contact", "owner").only(
        "title", "kind", "state", "channel", "due_at", "closed_at", "satisfaction", "account__name",
        "contact__first_name", "contact__last_name", *person_fields("owner"),
    )

    def lines() -> Iterator[list[Any]]:
        for t in rows.iterator(chunk_size=EXPORT_CHUNK):
            yield [
                t.title, t.get_kind_display(), t.get_state_display(), t.get_channel_display(), t.account.name,
                t.contact.full_name if t.contact else "", t.due_at, name_of(t.owner), t.closed_at, t.satisfaction,
            ]

    return streamed_csv(filename(name), TOUCHPOINT_CSV_HEADER, lines())


@login_required
@require_GET
def my_week_export(request: HttpRequest) -> HttpResponseBase:
    """The week page's check-ups as CSV: the same person (a manager may pick another's week, 403
    for others), the same rows, without the page's display cap."""
    owner = _week_owner(request)
    rows = selectors.week_rows(viewer=request.user, owner=owner, now=timezone.now(),
                               zone=timezone.get_current_timezone())
    return _touchpoint_csv(f"week-{owner.get_username()}", rows)


# --- Actions on one touchpoint --------------------------------------------------------------


def _row(request: HttpRequest, touchpoint: Touchpoint, *, status: int = 200, flash: str = "",
         flash_error: str = "", open_form: str = "", bound: dict[str, Form] | None = None) -> HttpResponse:
    """The row partial (for htmx), fresh from the database unless a failed form is shown."""
    user: Any = request.user
    if not bound:
        touchpoint = Touchpoint.objects.select_related("account", "contact", "owner", "completed_by").get(
            pk=touchpoint.pk
        )
    selectors.mark_timing(touchpoint, timezone.now(), timezone.get_current_timezone())
    attach_forms(touchpoint, user, **(bound or {}))
    touchpoint.flash = flash  # type: ignore[attr-defined]
    touchpoint.flash_error = flash_error  # type: ignore[attr-defined]
    touchpoint.open_form = open_form  # type: ignore[attr-defined]
    context = {"touchpoint": touchpoint, "next": request.POST.get("next", "")}
    if is_htmx(request):
        return render(request, "touchpoints/_row.html", context, status=status)
    # Without htmx, a refused form is shown on a page of its own, with the way back.
    context["back"] = _next(request, _week_url(touchpoint))
    return render(request, "touchpoints/touchpoint_page.html", context, status=status)


def _conflict(request: HttpRequest, touchpoint: Touchpoint, exc: Conflict) -> HttpResponse:
    """The touchpoint changed meanwhile (done, skipped, missed): 409 with the row as it is now
    and the reason (in place for htmx, else on the row's own page)."""
    return _row(request, touchpoint, status=409, flash_error=str(exc))


def _act(
    request: HttpRequest, pk: int, *, name: str, form: Form, run: Callable[[Touchpoint, Form], str]
) -> HttpResponse:
    """Find (404), check the role (403) and the state (409), validate (400), then run the service."""
    touchpoint = permissions.get_touchpoint_for(request.user, pk)
    permissions.require_can_work(request.user, touchpoint)
    if touchpoint.state != Touchpoint.State.SCHEDULED:
        return _conflict(request, touchpoint, Conflict(
            f"This check-up is already {touchpoint.get_state_display().lower()}; nothing was changed."
        ))
    if form.is_valid():
        try:
            ok = run(touchpoint, form)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except Conflict as exc:
            return _conflict(request, touchpoint, exc)
        else:
            if is_htmx(request):
                return _row(request, touchpoint, flash=ok)
            messages.success(request, ok)
            back = _next(request, _week_url(touchpoint))
            return HttpResponseRedirect(back if "#" in back else f"{back}#touchpoint-{touchpoint.pk}")
    return _row(request, touchpoint, status=400, open_form=name, bound={name: form})


@login_required
@require_POST
def touchpoint_complete(request: HttpRequest, pk: int) -> HttpResponse:
    def run(touchpoint: Touchpoint, form: Form) -> str:
        data = form.service_data()  # type: ignore[attr-defined]
        services.touchpoint_complete(touchpoint=touchpoint, by=request.user, **data)
        score = data["satisfaction"]
        said = ["Outcome recorded." if score is None else f"Outcome recorded: {score}/5."]
        if data["follow_up_at"]:
            said.append(f"Follow-up scheduled for {_when(data['follow_up_at'])}.")
        if data["problem_title"]:
            said.append(f"Problem \u201c{data['problem_title']}\u201d raised on {touchpoint.account.name}.")
        return " ".join(said)

    kind = Touchpoint.objects.filter(pk=pk).values_list("kind", flat=True).first() or ""
    form = OutcomeForm(request.POST, auto_id=row_auto_id(pk, "outcome"), kind=kind)
    return _act(request, pk, name="outcome", form=form, run=run)


@login_required
@require_POST
def touchpoint_skip(request: HttpRequest, pk: int) -> HttpResponse:
    def run(touchpoint: Touchpoint, form: Form) -> str:
        services.touchpoint_skip(touchpoint=touchpoint, by=request.user, reason=form.cleaned_data["reason"])
        return "Skipped."

    form = ReasonForm(request.POST, auto_id=row_auto_id(pk, "skip"), label="Why is it skipped?")
    return _act(request, pk, name="skip", form=form, run=run)


@login_required
@require_POST
def touchpoint_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    def run(touchpoint: Touchpoint, form: Form) -> str:
        services.touchpoint_cancel(touchpoint=touchpoint, by=request.user, reason=form.cleaned_data["reason"])
        return "Cancelled."

    form = ReasonForm(request.POST, auto_id=row_auto_id(pk, "cancel"), label="Why is it cancelled?")
    return _act(request, pk, name="cancel", form=form, run=run)


@login_required
@require_POST
def touchpoint_reschedule(request: HttpRequest, pk: int) -> HttpResponse:
    def run(touchpoint: Touchpoint, form: Form) -> str:
        before = touchpoint.due_at
        moved = services.touchpoint_reschedule(touchpoint=touchpoint, by=request.user,
                                               due_at=form.cleaned_data["due_at"])
        if moved.due_at == before:
            return f"Still due {_when(before)}; nothing was changed."
        return f"Moved to {_when(moved.due_at)}."

    form = RescheduleForm(request.POST, auto_id=row_auto_id(pk, "reschedule"))
    return _act(request, pk, name="reschedule", form=form, run=run)


# --- Team calendar --------------------------------------------------------------------------


def _week_from(value: str | None, today: date) -> date:
    """?week=YYYY-MM-DD (any day of the week); today's week when absent or unreadable."""
    try:
        day = date.fromisoformat(value or "")
    except ValueError:
        day = today
    if not date(2000, 1, 1) <= day <= date(2100, 1, 1):
        day = today
    return selectors.week_start(day)


def _calendar_filters(request: HttpRequest) -> tuple[date, str]:
    """The team calendar's week (Monday) and team from the query string; unreadable ones are
    today's week and everyone."""
    start = _week_from(request.GET.get("week"), timezone.localdate())
    team = request.GET.get("team") or ""
    return start, team if team in TEAMS else ""


@login_required
@require_GET
def team_calendar(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    permissions.require_can_see_others_weeks(user)
    zone = timezone.get_current_timezone()
    today = timezone.localdate()
    start, team = _calendar_filters(request)
    grid = selectors.team_calendar(viewer=user, start=start, team=team, zone=zone)
    return render(
        request, "touchpoints/team_calendar.html",
        {
            **grid, "start": start, "today": today, "team": team, "teams": list(TEAMS), "zone": zone,
            "previous": (start - timedelta(days=7)).isoformat(),
            "following": (start + timedelta(days=7)).isoformat(),
            "this_week": selectors.week_start(today),
            "today_index": (today - start).days if 0 <= (today - start).days < 7 else -1,
        },
    )


# --- The private calendar feed --------------------------------------------------------------


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def calendar_settings(request: HttpRequest) -> HttpResponse:
    """Create or reset the feed URL (shown once: only its hash is kept), or turn it off."""
    user: Any = request.user
    new_url = ""
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "reset":
            raw = services.calendar_feed_reset(user=user)
            new_url = request.build_absolute_uri(reverse("touchpoints:user_feed", args=[raw]))
        elif action == "revoke":
            if services.calendar_feed_revoke(user=user):
                messages.success(request, "Your calendar feed is off; its URL no longer works.")
            return HttpResponseRedirect(reverse("touchpoints:calendar_settings"))
        else:
            return render(request, "touchpoints/calendar_settings.html",
                          {"feed": CalendarFeed.objects.filter(user=user).first(),
                           "error": "Choose to create, reset or turn off the feed."}, status=400)
    feed = CalendarFeed.objects.filter(user=user).first()
    response = render(
        request, "touchpoints/calendar_settings.html",
        {"feed": feed, "new_url": new_url, "webcal_url": new_url.replace("https://", "webcal://", 1)
         .replace("http://", "webcal://", 1) if new_url else ""},
    )
    # Not "no-referrer": Chromium then sends "Origin: null" with this page's own forms, which
    # the CSRF check rightly refuses. The feed URL is never in this page's address anyway.
    response["Referrer-Policy"] = "same-origin"
    return response


@login_required
@require_GET
def team_calendar_export(request: HttpRequest) -> HttpResponseBase:
    """The team calendar's check-ups as CSV: managers only (403 for others), the same week and
    team, without the grid's display cap."""
    permissions.require_can_see_others_weeks(request.user)
    start, team = _calendar_filters(request)
    rows = selectors.calendar_rows(viewer=request.user, start=start, team=team, zone=timezone.get_current_timezone())
    return _touchpoint_csv(f"team-calendar-{team or 'everyone'}-{start.isoformat()}", rows)
