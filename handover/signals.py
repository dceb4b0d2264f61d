"""Signals handover sends so delivery and touchpoints can react without handover importing them."""

from django.dispatch import Signal

# Sent inside the acceptance transaction. kwargs: handover, by, options (what the delivery
# manager chose in the fields `acceptance_choices` offered, e.g. {"plan_template": 2}). A receiver that fails rolls the
# whole acceptance back, so nothing is left half-made (reliability 27).
handover_accepted = Signal()

# Sent when an acceptance form is built, so apps that start on acceptance can offer a choice
# (delivery offers its plan templates) without handover importing them. Each receiver returns
# {"name", "label", "choices": [(value, label)], "initial", "help_text"} or None.
acceptance_choices = Signal()
