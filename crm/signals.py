"""Signals crm sends so higher apps can react without crm importing them."""

from django.dispatch import Signal

# Sent inside the reassignment transaction, once per account, after the ledger row is written.
# Receivers move their own open work (handovers, check-ups) to the new owner.
# kwargs: account, from_user, to_user, by, change (the OwnershipChange row)
account_reassigned = Signal()

# Sent inside the transaction that marks a deal won. kwargs: deal, by
deal_won = Signal()

# Sent by `manage.py seed_demo` once the crm demo data is in (inside its transaction), so higher
# apps add their own demo data. kwargs: users (by username), rng, now, stdout
demo_data_loaded = Signal()

# Sent by the account page (crm.views) so higher apps add their own sections (delivery adds
# the account's projects, open problems and the customer portal link) without crm importing
# them. kwargs: account, user. Each receiver returns {"title", "template", "context"} or None;
# the page renders the template with `ctx` set to the context. Keep receivers to a fixed,
# small number of queries: the account page has a query budget.
account_page_sections = Signal()

# Sent inside contact_update when a contact leaves the organisation or asks not to be contacted,
# so higher apps move their open work away from them. kwargs: contact
contact_unreachable = Signal()
