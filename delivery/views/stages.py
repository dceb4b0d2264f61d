"""The stage actions of the project page: starting, completing and editing a stage, and
requesting the customer's sign-off."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from core.exceptions import Conflict
from core.http import posted
from crm.forms import add_service_errors
from customer_links.models import CustomerLink
from delivery import permissions, selectors, services
from delivery.forms import SignoffRequestForm, StageEditForm
from delivery.models import Project, Stage
from delivery.views.shared import conflict
from flows import actions as flows
from handover.models import Promise


def _project_url(project_id: int, stage_id: int | None = None) -> str:
    url = reverse("delivery:project_detail", args=[project_id])
    return f"{url}#stage-{stage_id}" if stage_id else url


def _role_label(stage: Stage) -> str:
    return stage.get_signer_role_display().lower() if stage.signer_role else "any"


def _stage_for_action(request: HttpRequest, pk: int) -> Stage:
    stage = permissions.get_stage_for(request.user, pk)
    permissions.require_can_run_delivery(request.user, stage.project)
    return stage


@login_required
@require_POST
def stage_start(request: HttpRequest, pk: int) -> HttpResponse:
    stage = _stage_for_action(request, pk)
    try:
        services.stage_start(stage=stage, by=request.user)
    except Conflict as exc:
        return conflict(request, exc, _project_url(stage.project_id, stage.pk))
    messages.success(request, f"Stage {stage.name} started.")
    return HttpResponseRedirect(_project_url(stage.project_id, stage.pk))


@login_required
@require_POST
def stage_complete(request: HttpRequest, pk: int) -> HttpResponse:
    stage = _stage_for_action(request, pk)
    try:
        flows.stage_complete(stage=stage, by=request.user)
    except Conflict as exc:
        return conflict(request, exc, _project_url(stage.project_id, stage.pk))
    project = Project.objects.get(pk=stage.project_id)
    if project.state == Project.State.COMPLETE:
        messages.success(request, f"Stage {stage.name} done; the delivery is complete.")
    else:
        messages.success(request, f"Stage {stage.name} done.")
    return HttpResponseRedirect(_project_url(stage.project_id, stage.pk))


@login_required
@require_http_methods(["GET", "POST"])
def stage_edit(request: HttpRequest, pk: int) -> HttpResponse:
    stage = _stage_for_action(request, pk)
    project = stage.project
    back = _project_url(project.pk, stage.pk)
    if project.state != Project.State.ACTIVE:
        return conflict(request, Conflict("The delivery is complete; its stages no longer change."), back)
    promises = list(Promise.objects.filter(deal_id=project.deal_id).select_related("made_by", "deal").order_by("pk"))
    current = list(stage.promises.order_by("pk").values_list("pk", flat=True))
    form = StageEditForm(posted(request), promises=promises, initial=StageEditForm.initial_for(stage, current))
    if request.method == "POST" and form.is_valid():
        try:
            # One change: if the promises are refused, the dates and texts are not saved either.
            with transaction.atomic():
                services.stage_update(stage=stage, by=request.user, **form.stage_data())
                services.stage_set_promises(stage=stage, by=request.user, promises=form.cleaned_data["promises"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        except Conflict as exc:
            return conflict(request, exc, back)
        else:
            messages.success(request, f"Stage {stage.name} saved.")
            return HttpResponseRedirect(back)
    status = 400 if form.is_bound else 200
    return render(
        request, "delivery/stage_form.html",
        {"stage": stage, "project": project, "account": stage.account, "form": form, "back": back,
         "has_promises": bool(promises)},
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def stage_request_signoff(request: HttpRequest, pk: int) -> HttpResponse:
    stage = _stage_for_action(request, pk)
    project = stage.project
    back = _project_url(project.pk, stage.pk)
    if request.method == "GET":
        # The same rules the service applies, so the form is not offered when it cannot work.
        if project.state != Project.State.ACTIVE:
            return conflict(request, Conflict("The delivery is complete; its stages no longer change."), back)
        if not stage.needs_signoff:
            return conflict(request, Conflict("This stage is completed by the delivery owner; it has no customer "
                                               "sign-off."), back)
        if stage.state not in (Stage.State.IN_PROGRESS, Stage.State.AWAITING_SIGNOFF):
            return conflict(request, Conflict(f"The stage is {stage.get_state_display().lower()}; start it before "
                                               "asking for sign-off."), back)
    signers = list(services.signer_choices(stage).order_by("first_name", "last_name"))
    form = SignoffRequestForm(
        posted(request), signers=signers, role=_role_label(stage),
        initial={"delivered": stage.delivered, "contact": stage.signer_id},
    )
    if request.method == "POST" and form.is_valid():
        contact = form.cleaned_data["contact"]
        try:
            services.stage_request_signoff(
                stage=stage, by=request.user, contact=contact, delivered=form.cleaned_data["delivered"]
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        except Conflict as exc:
            return conflict(request, exc, back)
        else:
            messages.success(
                request,
                f"Sign-off of {stage.name} requested from {contact.full_name}; the link is on its way by email.",
            )
            return HttpResponseRedirect(back)
    last_link = selectors.latest_link(CustomerLink.Purpose.SIGNOFF, CustomerLink.target_of(stage))
    return render(
        request, "delivery/signoff_request.html",
        {"stage": stage, "project": project, "account": stage.account, "form": form, "back": back,
         "signers": signers, "role": _role_label(stage), "last_link": last_link,
         "link_status": selectors.link_status(last_link), "link_days": settings.KEEPWARM["SIGNOFF_LINK_DAYS"],
         "promises": list(stage.promises.order_by("pk"))},
        status=400 if form.is_bound else 200,
    )
