"""The default agendas (seeded by migration 0002; administrators edit them afterwards)."""

from typing import Any

# (anchor, offset days, kind, channel, sends survey, objectives)
AGENDAS = {
    "30-day service agenda": (
        "product.md's service agenda: from the accepted handover through the first month.",
        [
            ("accepted", 0, "thank_you", "email", False,
             "Thank the customer for their trust; introduce the delivery owner; confirm the best way to reach them."),
            ("accepted", 1, "delivery_confirmation", "phone", False,
             "Confirm what was bought, the delivery dates and the first stage; note any new expectation."),
            ("accepted", 7, "checkup_call", "preferred", True,
             "Ask how the first week went, what is not as expected, and who else should be involved."),
            ("accepted", 14, "training_check", "preferred", False,
             "Check that the users were trained and can work; arrange more training where needed."),
            ("accepted", 30, "review_meeting", "video", True,
             "Review the first month against what was promised; agree what happens next."),
        ],
    ),
    "Quarterly follow-on": (
        "After go-live: a check-up every quarter until the renewal or the next sale.",
        [
            ("go_live", 90, "checkup_call", "preferred", True,
             "Quarterly check-up: satisfaction, usage, open problems, new needs."),
            ("go_live", 180, "checkup_call", "preferred", True,
             "Quarterly check-up: satisfaction, usage, open problems, new needs."),
            ("go_live", 270, "checkup_call", "preferred", True,
             "Quarterly check-up: satisfaction, usage, open problems, new needs."),
            ("go_live", 330, "renewal", "preferred", False,
             "Prepare the renewal or the next sale with what the year taught us."),
        ],
    ),
}


def create_default_agendas(AgendaTemplate: Any, AgendaStep: Any) -> None:  # noqa: N803 (model classes)
    """Used by the data migration (with historical models) and by tests that flush the tables."""
    for name, (description, steps) in AGENDAS.items():
        template, created = AgendaTemplate.objects.get_or_create(name=name, defaults={"description": description})
        if not created:
            continue
        for position, (anchor, offset, kind, channel, survey, objectives) in enumerate(steps, start=1):
            AgendaStep.objects.create(
                template=template, position=position, anchor=anchor, offset_days=offset, kind=kind, channel=channel,
                sends_survey=survey, objectives=objectives,
            )
