"""The write path for crm, the app's write API, by intent in the modules below: every view, API
view, admin action, command and task calls these.

- `accounts`: creating and editing an account, and the one writer of its lifecycle;
- `contacts`: the account's people;
- `team`: the account team's seats;
- `deals`: deals, their line items and the pipeline totals;
- `activities`: the calls, meetings, emails and notes logged on the timeline;
- `ownership`: the one writer of an account's owner, reassignment, succession and the handover
  to delivery;
- `archive`: archiving and restoring accounts and contacts;
- `merging`: crm's part of merging two accounts or two contacts (flows.account_merge);
- `users`: ending a person's access, deactivation and profiles;
- `shared`: applying field edits and who may be given an account, which several of them use.

Each service is keyword-only, atomic, locks what it changes, checks permission, validates
(django ValidationError with field names), writes the event row, and defers side effects
(emails, tasks) to `transaction.on_commit`. Callers import this package (`from crm import
services`); the names below are the ones they use.
"""

from crm.services.accounts import (
    ACCOUNT_CREATE_FIELDS,
    ACCOUNT_FIELDS,
    account_create,
    account_lifecycle_change,
    account_update,
)
from crm.services.activities import EARLIEST_ACTIVITY, activity_log
from crm.services.archive import account_archive, account_restore, contact_archive, contact_restore
from crm.services.contacts import CONTACT_FIELDS, contact_create, contact_update
from crm.services.deals import (
    DEAL_FIELDS,
    deal_create,
    deal_lose,
    deal_move,
    deal_reopen,
    deal_update,
    deal_win,
    pipeline_totals_rebuild,
)
from crm.services.merging import (
    account_merge_begin,
    account_merge_check,
    account_merge_finish,
    contact_merge_begin,
    contact_merge_check,
    contact_merge_finish,
    rows_pointing_at,
)
from crm.services.ownership import (
    PlanRow,
    ReassignmentPlan,
    account_hand_to_delivery,
    account_reassign,
    book_plan,
    book_reassign,
)
from crm.services.team import TEAM_ROLES_ADDABLE, team_member_add, team_member_end, team_member_join
from crm.services.users import profile_update, user_deactivate, user_end_access

__all__ = [
    "ACCOUNT_CREATE_FIELDS", "ACCOUNT_FIELDS", "CONTACT_FIELDS", "DEAL_FIELDS", "EARLIEST_ACTIVITY",
    "TEAM_ROLES_ADDABLE", "PlanRow", "ReassignmentPlan", "account_archive", "account_create",
    "account_hand_to_delivery", "account_lifecycle_change", "account_merge_begin", "account_merge_check",
    "account_merge_finish", "account_reassign", "account_restore", "account_update", "activity_log", "book_plan",
    "book_reassign", "contact_archive", "contact_create", "contact_merge_begin", "contact_merge_check",
    "contact_merge_finish", "contact_restore", "contact_update", "deal_create", "deal_lose", "deal_move",
    "deal_reopen", "deal_update", "deal_win", "pipeline_totals_rebuild", "profile_update", "rows_pointing_at",
    "team_member_add", "team_member_end", "team_member_join", "user_deactivate", "user_end_access",
]
