"""Signals delivery sends so touchpoints can react (and add to the portal) without delivery importing it."""

from django.dispatch import Signal

# Sent inside the transaction in which the last stage of a project is signed off or done
# ("go-live"). kwargs: project, by (None when the customer's sign-off completed it)
project_completed = Signal()

# Sent when the customer portal is rendered, so other apps add their sections (touchpoints adds
# the upcoming check-ups). kwargs: account. Each receiver returns
# {"title", "template", "context"} or None.
portal_sections = Signal()
