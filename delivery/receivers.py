"""delivery offers its plan templates to handover's acceptance form and its section to crm's
account page (neither imports delivery), and adds its demo data when crm's seeding asks."""

from typing import Any

from django.dispatch import receiver

from crm.signals import account_page_sections, demo_data_loaded, scale_data_seeded
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


@receiver(demo_data_loaded)
def add_demo_deliveries(sender: Any, users: Any, rng: Any, now: Any, stdout: Any, **kwargs: Any) -> None:
    from delivery import demo

    demo.seed_deliveries(users=users, rng=rng, now=now, stdout=stdout)


@receiver(account_page_sections)
def account_delivery_section(sender: Any, account: Any, user: Any, **kwargs: Any) -> dict[str, Any] | None:
    """The account page's "Delivery" section: projects, open problems, the portal link."""
    from delivery.selectors import account_section

    return account_section(account=account, user=user, contacts=kwargs.get("contacts"))


@receiver(scale_data_seeded)
def add_scale_deliveries(sender: Any, **kwargs: Any) -> None:
    """The bench deliveries: runs after handover's receiver (INSTALLED_APPS order), whose
    accepted handovers it starts projects for."""
    from delivery import scale

    scale.seed(**{k: kwargs[k] for k in ("owners", "now", "use_copy", "batch", "progress", "stdout")})
