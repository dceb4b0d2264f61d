"""delivery offers its plan templates to handover's acceptance form and its section to crm's
account page (neither imports delivery)."""

from typing import Any

from django.dispatch import receiver

from crm.signals import account_page_sections
from delivery import services
from delivery.models import PlanTemplate
from handover.signals import acceptance_choices


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


@receiver(account_page_sections)
def account_delivery_section(sender: Any, account: Any, user: Any, **kwargs: Any) -> dict[str, Any] | None:
    """The account page's "Delivery" section: projects, open problems, the portal link."""
    from delivery.selectors import account_section

    return account_section(account=account, user=user, contacts=kwargs.get("contacts"))

