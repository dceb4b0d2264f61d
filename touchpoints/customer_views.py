"""Pages without a login: the customer's check-up survey (the same link mechanism as sign-off,
customer_links.pages), the portal's agenda as ICS, and each user's private ICS feed."""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from core.exceptions import Conflict
from core.time_zones import show_in_zone_of
from crm.models import Account
from customer_links import services as links
from customer_links.models import CustomerLink
from customer_links.pages import customer_page, land, problem_page, session_link
from touchpoints import calendars, services
from touchpoints.models import CalendarFeed, SurveyResponse, Touchpoint


@customer_page  # outermost: a 405 is a customer page too (no-store, referrer policy)
@require_GET
def survey_open(request: HttpRequest, token: str) -> HttpResponse:
    return land(
        request, token, purpose=CustomerLink.Purpose.SURVEY,
        landing_url=lambda link: reverse("touchpoints:survey", args=[CustomerLink.target_pk(link.target)]),
    )


def _yes_no(value: str | None) -> bool | None:
    return {"yes": True, "no": False}.get(value or "")


@customer_page
@require_http_methods(["GET", "POST"])
def survey(request: HttpRequest, pk: int) -> HttpResponse:
    check = session_link(request, purpose=CustomerLink.Purpose.SURVEY, target=f"{Touchpoint._meta.label_lower}:{pk}")
    link = check.link
    if check.problem == links.USED and link is not None:
        answered = SurveyResponse.objects.filter(link=link).select_related("touchpoint__owner__profile").first()
        if answered is not None:
            return render(request, "touchpoints/customer/survey_thanks.html",
                          {"response": answered, "again": request.method == "POST",
                           "time_zone": show_in_zone_of(answered.touchpoint.owner)},
                          status=409 if request.method == "POST" else 200)
    if not check.ok or link is None:
        return problem_page(request, check)
    touchpoint = services.touchpoint_of_link(link)
    time_zone = show_in_zone_of(touchpoint.owner)  # the survey email's: it comes from the check-up's owner
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        try:
            services.survey_answer(
                link=link, satisfaction=request.POST.get("satisfaction"),
                as_expected=_yes_no(request.POST.get("as_expected")), comment=request.POST.get("comment", ""),
                is_complaint=request.POST.get("is_complaint") == "on", ip=request.META.get("REMOTE_ADDR"),
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
            )
        except ValidationError as exc:
            errors = exc.message_dict
        except Conflict:
            answered = SurveyResponse.objects.filter(touchpoint=touchpoint).first()
            return render(request, "touchpoints/customer/survey_thanks.html",
                          {"response": answered, "again": True, "time_zone": time_zone}, status=409)
        else:
            return HttpResponseRedirect(reverse("touchpoints:survey", args=[pk]))
    return render(
        request, "touchpoints/customer/survey.html",
        {"touchpoint": touchpoint, "contact": link.contact, "owner": touchpoint.owner, "errors": errors,
         "data": request.POST if errors else {}, "scores": range(1, 6), "expires_at": link.expires_at,
         "time_zone": time_zone},
        status=400 if errors else 200,
    )


@customer_page
@require_GET
def portal_agenda_ics(request: HttpRequest, pk: int) -> HttpResponse:
    """The account's upcoming check-ups for the customer's calendar (portal link in the session)."""
    check = session_link(request, purpose=CustomerLink.Purpose.PORTAL, target=f"{Account._meta.label_lower}:{pk}")
    if not check.ok:
        return problem_page(request, check)
    account = Account.objects.get(pk=pk)
    touchpoints = (
        Touchpoint.objects.filter(account=account, state=Touchpoint.State.SCHEDULED).exclude(kind="renewal")
        .select_related("owner").order_by("due_at")[:100]
    )
    response = HttpResponse(calendars.build(touchpoints, name=f"{account.name}: check-ups", for_customer=True),
                            content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="check-ups.ics"'
    return response


@require_GET
def user_feed(request: HttpRequest, token: str) -> HttpResponse:
    """A user's touchpoints from 30 days ago onwards; the token (hashed in the database) is the
    only credential, so a wrong one is a plain 404 and the response is never cached publicly."""
    feed = CalendarFeed.objects.select_related("user").filter(token_hash=links.token_hash(token)).first()
    if feed is None or not feed.user.is_active:
        raise Http404("No such calendar.")
    now = timezone.now()
    CalendarFeed.objects.filter(pk=feed.pk).update(last_fetched_at=now)
    touchpoints = (
        Touchpoint.objects.filter(owner=feed.user, due_at__gte=now - timedelta(days=30))
        .select_related("account", "contact", "owner").order_by("due_at")[:1000]
    )
    name = f"Keepwarm: {feed.user.get_full_name() or feed.user.get_username()}"
    response = HttpResponse(calendars.build(touchpoints, name=name), content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response
