"""Signals crm sends so higher apps can react without crm importing them."""

from django.dispatch import Signal

# Sent inside the reassignment transaction, once per account, after the ledger row is written.
# Receivers move their own open work (handovers, check-ups) to the new owner.
# kwargs: account, from_user, to_user, by, change (the OwnershipChange row)
account_reassigned = Signal()

# Sent inside a book reassignment's transaction, once, after every account has moved (and so
# after every account_reassigned). On a departure, receivers move the departing user's remaining
# open work on accounts they did not own (check-ups) to the successor.
# kwargs: from_user, to_user, by, reason (OwnershipChange.Reason)
book_reassigned = Signal()

# Sent inside the transaction that marks a deal won. kwargs: deal, by
deal_won = Signal()

# Sent by the account page (crm.views) so higher apps add their own sections (delivery adds
# the account's projects, open problems and the customer portal link) without crm importing
# them. kwargs: account, user, contacts (all the account's, as the page read them: use them
# instead of asking again). Each receiver returns {"title", "template", "context"} or None;
# the page renders the template with `ctx` set to the context. Keep receivers to a fixed,
# small number of queries: the account page has a query budget.
account_page_sections = Signal()

# Sent inside contact_update when a contact leaves the organisation or asks not to be contacted,
# so higher apps move their open work away from them. kwargs: contact
contact_unreachable = Signal()
