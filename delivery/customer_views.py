"""The customer's pages: a stage's sign-off and the account's read-only portal. No login: the
emailed link is checked, moved to the session and the browser redirected to a URL without the
token (customer_links.pages). GET never changes anything; only POST signs off. The pages show
only what the customer may see: no internal notes, reviews, risks or problems."""

from __future__ import annotations

import secrets
from dataclasses import asdict
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from core.exceptions import Conflict
from core.names import name_of
from core.time_zones import show_in_zone_of
from crm.models import Account
from customer_links import services as links
from customer_links.models import CustomerLink
from customer_links.pages import customer_page, land, problem_page, session_link
from delivery import services
from delivery.models import Project, SignOff, Stage
from delivery.signals import portal_sections
from flows import actions as flows

DECISIONS = ("sign_off", "request_changes")
# The answer the review step showed, with the nonce its confirming POST must carry (per link).
REVIEW_SESSION_KEY = "delivery.signoff_review"



def _person(user: Any) -> dict[str, str]:
    profile = getattr(user, "profile", None)
    return {
        "name": name_of(user),
        "email": user.email,
        "phone": getattr(profile, "phone", "") if profile is not None else "",
    }


@customer_page
@require_GET
def signoff_open(request: HttpRequest, token: str) -> HttpResponse:
    return land(
        request, token, purpose=CustomerLink.Purpose.SIGNOFF,
        landing_url=lambda link: reverse("delivery:signoff", args=[CustomerLink.target_pk(link.target)]),
    )


@customer_page
@require_http_methods(["GET", "POST"])
def signoff(request: HttpRequest, pk: int) -> HttpResponse:
    check = session_link(request, purpose=CustomerLink.Purpose.SIGNOFF, target=f"{Stage._meta.label_lower}:{pk}")
    link = check.link
    if check.problem == links.USED and link is not None:
        answer = SignOff.objects.filter(link=link).select_related("stage").first()
        if answer is not None:
            return _answered(request, answer, status=409 if request.method == "POST" else 200)
    if not check.ok or link is None:
        return problem_page(request, check)
    stage = services.stage_of_link(link)
    time_zone = show_in_zone_of(stage.project.owner)  # whose zone the sign-off request was written in
    errors: dict[str, list[str]] = {}
    data: Any = {}
    review_key = f"{REVIEW_SESSION_KEY}:{link.pk}"
    if request.method == "POST" and request.POST.get("step") == "confirm":
        # The final, irreversible POST records what the review step showed, read back from the
        # session (not from this POST), and only when it carries that review's nonce.
        reviewed = request.session.get(review_key) or {}
        nonce = reviewed.get("nonce", "")
        if not nonce or not secrets.compare_digest(nonce, request.POST.get("review", "")):
            errors = {"review": ["Check your answer first: nothing was recorded. Fill in the form and review it."]}
        else:
            answer = reviewed["answer"]
            try:
                flows.customer_answer(
                    link=link, **answer, ip=request.META.get("REMOTE_ADDR"),
                    user_agent=request.META.get("HTTP_USER_AGENT", ""),
                )
            except ValidationError as exc:
                errors, data = exc.message_dict, _answer_data(answer)
            except Conflict as exc:
                fresh = links.link_check(
                    CustomerLink.objects.get(pk=link.pk), purpose=link.purpose, target=link.target,
                )
                done = SignOff.objects.filter(link=link).select_related("stage").first()
                if done is not None:
                    return _answered(request, done, status=409)
                return render(
                    request, "delivery/customer/conflict.html", {"message": str(exc), "check": fresh}, status=409,
                )
            else:
                request.session.pop(review_key, None)
                return HttpResponseRedirect(reverse("delivery:signoff", args=[pk]))
    elif request.method == "POST" and request.POST.get("decision") not in DECISIONS:
        # Only the two buttons answer: a POST that pressed neither signs nothing.
        errors, data = {"decision": ["Choose to sign off or to ask for changes."]}, request.POST
    elif request.method == "POST":
        # The review step: checks the answer and shows it back; records nothing, uses no link.
        try:
            checked = services.customer_answer_check(
                link=link, signed_off=request.POST.get("decision") == "sign_off",
                typed_name=request.POST.get("typed_name", ""), reason=request.POST.get("reason", ""),
                on_behalf=request.POST.get("on_behalf") == "yes",
                on_behalf_role=request.POST.get("on_behalf_role", ""),
            )
        except ValidationError as exc:
            errors, data = exc.message_dict, request.POST
        else:
            if stage.state == Stage.State.AWAITING_SIGNOFF and stage.signer_id == link.contact_id:
                review = {"nonce": secrets.token_urlsafe(16), "answer": asdict(checked)}
                request.session[review_key] = review
                return render(request, "delivery/customer/signoff_review.html", {
                    "stage": stage, "project": stage.project, "account": stage.account, "contact": link.contact,
                    "answer": checked, "review": review["nonce"],
                })
    elif (reviewed := request.session.get(review_key)) is not None:
        # Back from the review to change the answer: the form shows what was typed.
        data = _answer_data(reviewed["answer"])
    if stage.state != Stage.State.AWAITING_SIGNOFF or stage.signer_id != link.contact_id:
        return render(
            request, "delivery/customer/conflict.html",
            {"message": "This stage is no longer waiting for your sign-off.", "owner": _person(stage.project.owner),
             "time_zone": time_zone},
            status=409,
        )
    context = {
        "stage": stage,
        "project": stage.project,
        "account": stage.account,
        "contact": link.contact,
        "promises": list(stage.promises.order_by("pk").only("kind", "description", "due_date")),
        "owner": _person(stage.project.owner),
        "expires_at": link.expires_at,
        "errors": errors,
        "data": data,
        "time_zone": time_zone,
    }
    return render(request, "delivery/customer/signoff.html", context, status=400 if errors else 200)


def _answer_data(answer: dict[str, Any]) -> dict[str, str]:
    """A reviewed answer as the form's values."""
    return {
        "decision": "sign_off" if answer["signed_off"] else "request_changes",
        "typed_name": answer["typed_name"], "reason": answer["reason"],
        "on_behalf": "yes" if answer["on_behalf"] else "", "on_behalf_role": answer["on_behalf_role"],
    }


def _answered(request: HttpRequest, answer: SignOff, *, status: int) -> HttpResponse:
    stage = Stage.objects.select_related("project__owner__profile", "account").get(pk=answer.stage_id)
    return render(
        request, "delivery/customer/answered.html",
        {"answer": answer, "stage": stage, "owner": _person(stage.project.owner), "again": status == 409,
         "time_zone": show_in_zone_of(stage.project.owner)},
        status=status,
    )


@customer_page
@require_GET
def portal_open(request: HttpRequest, token: str) -> HttpResponse:
    return land(
        request, token, purpose=CustomerLink.Purpose.PORTAL,
        landing_url=lambda link: reverse("delivery:portal", args=[CustomerLink.target_pk(link.target)]),
    )


@customer_page
@require_GET
def portal(request: HttpRequest, pk: int) -> HttpResponse:
    check = session_link(request, purpose=CustomerLink.Purpose.PORTAL, target=f"{Account._meta.label_lower}:{pk}")
    if not check.ok or check.link is None:
        return problem_page(request, check)
    account = Account.objects.select_related("owner__profile").get(pk=pk)
    projects = list(
        Project.objects.filter(account=account)
        .select_related("deal", "owner__profile")
        .prefetch_related("stages__signer")
        .order_by("-started_at")
    )
    pending = [
        stage for project in projects for stage in project.stages.all() if stage.state == Stage.State.AWAITING_SIGNOFF
    ]
    owner = projects[0].owner if projects else account.owner
    time_zone = show_in_zone_of(account.owner)  # the portal invitation's: it comes from the account's owner
    sections = [
        section for _receiver, section in portal_sections.send(sender=Account, account=account, link=check.link)
        if section
    ]
    return render(
        request, "delivery/customer/portal.html",
        {"account": account, "projects": projects, "pending": pending, "owner": _person(owner),
         "contact": check.link.contact, "sections": sections, "time_zone": time_zone},
    )
