"""The default delivery plans (seeded by migration 0002; administrators edit them afterwards)."""

from typing import Any

PLANS = {
    "Software rollout": (
        "A hosted or on-premises software product, from kickoff to go-live.",
        [
            ("Kickoff", "Scope, plan and contacts agreed with the customer's project lead.", True, "decision_maker", 3),
            (
                "Installation",
                "The product installed and configured in the customer's environment.",
                True,
                "technical",
                10,
            ),
            ("Data migration", "The customer's data moved in and checked against the source.", True, "technical", 10),
            ("Training", "Key users and administrators trained on their own data.", True, "champion", 7),
            ("Go-live", "The customer works in production; hypercare begins.", True, "decision_maker", 5),
        ],
    ),
    "Equipment": (
        "Physical equipment: ordered, delivered, installed and the operators trained.",
        [
            ("Order confirmed", "The configuration and delivery date confirmed with the supplier.", False, "", 2),
            ("Delivered", "Equipment delivered on site and checked against the order.", True, "user", 14),
            ("Installed", "Installed, connected and tested by our engineers.", True, "technical", 7),
            ("Trained", "Operators trained and the handbook handed over.", True, "champion", 5),
        ],
    ),
}


def create_default_plans(PlanTemplate: Any, PlanTemplateStage: Any) -> None:  # noqa: N803 (model classes)
    """Used by the data migration (with historical models) and by tests that flush the tables."""
    for name, (description, stages) in PLANS.items():
        template, created = PlanTemplate.objects.get_or_create(name=name, defaults={"description": description})
        if not created:
            continue
        for position, (stage, text, signoff, role, days) in enumerate(stages, start=1):
            PlanTemplateStage.objects.create(
                template=template,
                position=position,
                name=stage,
                description=text,
                needs_signoff=signoff,
                signer_role=role,
                duration_days=days,
            )
