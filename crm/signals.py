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

# Sent by `manage.py seed_demo` once the crm demo data is in (inside its transaction), so higher
# apps add their own demo data. kwargs: users (by username), rng, now, stdout
demo_data_loaded = Signal()

# Sent by `manage.py seed_scale` once the crm bench data are in (outside any transaction: each
# receiver commits its own batches), also when crm had nothing to add, so a database seeded by an
# earlier crm-only run gets the rest. Each higher app adds its bench rows for the bench data that
# lack them (handover: won deals without a handover; delivery: accepted handovers without a
# project; touchpoints: accepted handovers without check-ups) and adds nothing on a second run.
# Receivers run in INSTALLED_APPS order (handover, delivery, touchpoints), and each reads what the
# one before wrote. kwargs: owners (the bench reps' ids), now, use_copy (COPY on PostgreSQL, else
# bulk_create; crm.bulk does both), batch (rows of work per transaction), progress (show a
# progress bar), stdout
scale_data_seeded = Signal()

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

# Sent inside contact_update when the address the customer's emailed links went to may no longer
# reach them (the contact left, asked not to be contacted, or changed email), so the app that
# keeps those links revokes the live ones. kwargs: contact
contact_address_lapsed = Signal()
