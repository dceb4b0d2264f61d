"""The hook delivery's customer portal offers to the apps above it, without importing them."""

from django.dispatch import Signal

# Sent when the customer portal is rendered, so other apps add their sections (touchpoints adds
# the upcoming check-ups). kwargs: account. Each receiver returns
# {"title", "template", "context"} or None.
portal_sections = Signal()
