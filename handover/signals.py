"""The hook handover's acceptance form offers to the apps above it, without importing them."""

from django.dispatch import Signal

# Sent when an acceptance form is built, so apps that start on acceptance can offer a choice
# (delivery offers its plan templates) without handover importing them; what the delivery
# manager chose reaches the acceptance flow as `options` (e.g. {"plan_template": 2}). Each
# receiver returns {"name", "label", "choices": [(value, label)], "initial", "help_text"} or None.
acceptance_choices = Signal()
