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
