"""Signals handover sends so delivery and touchpoints can react without handover importing them."""

from django.dispatch import Signal

# Sent inside the acceptance transaction. kwargs: handover, by. A receiver that fails rolls the
# whole acceptance back, so nothing is left half-made (reliability 27).
handover_accepted = Signal()
