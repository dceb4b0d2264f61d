"""The kinds of notice a staff user hears of, grouped as they choose their emails.

Every notice that emails a staff member also lands in their bell (outbox.notices); each kind
that does names its topic when it is registered (`notices.register(kind, topic=...)`), and a
user may turn off the email of a topic and keep its bell entries (`EmailOptOut`). Kinds that
only ever email customers (a sign-off link, a survey) have no topic."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    key: str
    label: str
    help: str


TOPICS: tuple[Topic, ...] = (
    Topic("review_requests", "Handover review requests", "A rep submitted a handover for your review."),
    Topic("acceptance", "Acceptance", "A handover waits for delivery's acceptance, or was accepted."),
    Topic("sent_back", "Handovers sent back", "Your handover was returned by sales or rejected by delivery."),
    Topic("assignments", "Accounts assigned to you", "You became the owner of accounts."),
    Topic("reminders", "Check-up reminders", "A check-up is due now or tomorrow; a sign-off is still awaited."),
    Topic("digest", "Morning digest", "Your check-ups due today and overdue, each working morning."),
    Topic("escalations", "Escalations", "A handover passed its acceptance deadline, or a check-up was missed."),
    Topic("signoffs", "Sign-offs", "A customer signed off a stage or asked for changes."),
    Topic("customer_answers", "Customer answers", "An unhappy survey answer, or a customer asking for a new link."),
    Topic("problems", "Critical problems", "A critical problem was raised on an account you work on."),
)
BY_KEY = {topic.key: topic for topic in TOPICS}
