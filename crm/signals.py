"""Signals crm sends so higher apps can react without crm importing them."""

from django.dispatch import Signal

# Sent inside the reassignment transaction, once per account, after the ledger row is written,
# so caches above crm (insights' dashboard snapshots) forget what they showed. Not for moving
# work: the flows layer moves handovers, projects and check-ups to the new owner by name.
# kwargs: account, from_user, to_user, by, change (the OwnershipChange row)
account_reassigned = Signal()


# Sent by the account page (crm.views.accounts) so higher apps add their own sections (delivery adds
# the account's projects, open problems and the customer portal link) without crm importing
# them. kwargs: account, user, contacts (all the account's, as the page read them: use them
# instead of asking again). Each receiver returns {"title", "template", "context"} or None;
# the page renders the template with `ctx` set to the context. Keep receivers to a fixed,
# small number of queries: the account page has a query budget.
account_page_sections = Signal()
# Sent inside contact_update when the address the customer's emailed links went to may no longer
# reach them (the contact left, asked not to be contacted, or changed email), so the app that
# keeps those links revokes the live ones. kwargs: contact
contact_address_lapsed = Signal()
# Sent inside a merge of two accounts (flows.account_merge), after every row moved to the
# survivor, so caches above crm (insights' dashboard snapshots) forget what they showed.
# kwargs: merged, survivor, by
accounts_merged = Signal()
