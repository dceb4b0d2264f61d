"""The write path for promises and handovers, the app's write API, by intent in the modules
below. Same shape as crm.services: keyword-only, atomic, row-locked, permission-checked, an
event row per change, side effects on commit.

- `promises`: the promise ledger on a deal, its reviews, and delivery's verdict on each promise;
- `handovers`: the handover package and its steps, what blocks each, and the open handovers
  following the account's owner;
- `merging`: promises and handovers following a merge of accounts or contacts;
- `shared`: the check both of them make on the contacts they name.

Callers import this package (`from handover import services`); the names below are the ones
they use.
"""

from handover.services.handovers import (
    HANDOVER_FIELDS,
    accept_blockers,
    add_working_days,
    approve_blockers,
    handover_accept,
    handover_approve,
    handover_discard_for_deal,
    handover_move_rep,
    handover_open_for_deal,
    handover_reject,
    handover_return,
    handover_submit,
    handover_update,
    reopen_blocker,
    submit_blockers,
)
from handover.services.merging import handovers_move_to_account, promises_move_to_contact
from handover.services.promises import (
    PROMISE_FIELDS,
    promise_mark_outcome,
    promise_record,
    promise_reset,
    promise_review,
    promise_update,
    promise_withdraw,
    promises_break,
)

__all__ = [
    "HANDOVER_FIELDS", "PROMISE_FIELDS", "accept_blockers", "add_working_days", "approve_blockers",
    "handover_accept", "handover_approve", "handover_discard_for_deal", "handover_move_rep",
    "handover_open_for_deal", "handover_reject", "handover_return", "handover_submit", "handover_update",
    "handovers_move_to_account", "promise_mark_outcome", "promise_record", "promise_reset", "promise_review",
    "promise_update", "promise_withdraw", "promises_break", "promises_move_to_contact", "reopen_blocker",
    "submit_blockers",
]
