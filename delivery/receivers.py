"""delivery reacts to handover's and crm's signals (neither imports delivery)."""

from typing import Any

from django.dispatch import receiver

from crm.signals import account_page_sections, account_reassigned
from delivery import services
from delivery.models import PlanTemplate
from handover.signals import acceptance_choices, handover_accepted


@receiver(handover_accepted)
def start_delivery(sender: Any, handover: Any, by: Any, options: Any = None, **kwargs: Any) -> None:
    """The project starts inside the acceptance transaction: a failure here accepts nothing."""
    services.project_start(handover=handover, by=by, template_id=(options or {}).get("plan_template"))


@receiver(acceptance_choices)
def offer_plan_templates(sender: Any, **kwargs: Any) -> dict[str, Any] | None:
    templates = list(PlanTemplate.objects.filter(is_active=True).values_list("pk", "name"))
    if not templates:
        return None
    default = services.plan_template_default()
    return {
        "name": "plan_template",
        "label": "Delivery plan",
        "choices": templates,
        "initial": default.pk if default else None,
        "help_text": "The stages the delivery project starts with.",
    }


@receiver(account_reassigned)
def move_deliveries(sender: Any, account: Any, from_user: Any, to_user: Any, **kwargs: Any) -> None:
    services.projects_move_owner(account=account, from_user=from_user, to_user=to_user)


@receiver(account_page_sections)
def account_delivery_section(sender: Any, account: Any, user: Any, **kwargs: Any) -> dict[str, Any] | None:
    """The account page's "Delivery" section: projects, open problems, the portal link."""
    from delivery.selectors import account_section

    return account_section(account=account, user=user, contacts=kwargs.get("contacts"))

