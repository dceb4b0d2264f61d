"""The write path for delivery, the app's write API, by intent in the modules below. Same shape
as crm.services: keyword-only, atomic, row-locked, permission-checked, an event row per change,
side effects (emails) after commit through the outbox or the link task.

- `projects`: the plan, starting a project for an accepted handover, its owner following the
  account's, and completing it;
- `stages`: the stages as the delivery owner runs them;
- `signoff`: the customer's sign-off of a stage, from the request to the answer on the link;
- `portal`: the customer portal's link;
- `problems`: problems raised, worked and traced back to their promises;
- `merging`: projects, stages, problems and sign-offs following a merge;
- `shared`: the settings, the text limit and the stage lock several of them use.

Callers import this package (`from delivery import services`); the names below are the ones
they use.
"""

from delivery.services.merging import projects_move_to_account, signoffs_move_to_contact
from delivery.services.portal import portal_link_issue, portal_link_revoke
from delivery.services.problems import (
    problem_attribution,
    problem_close,
    problem_raise,
    problem_reopen,
    problem_resolve,
)
from delivery.services.projects import plan_template_choose, plan_template_default, project_start, projects_move_owner
from delivery.services.shared import TEXT_LIMIT
from delivery.services.signoff import (
    SIGNOFF_REMINDER_KINDS,
    CustomerAnswer,
    customer_answer,
    customer_answer_check,
    signature_key,
    signer_choices,
    stage_of_link,
    stage_request_signoff,
)
from delivery.services.stages import STAGE_FIELDS, stage_complete, stage_set_promises, stage_start, stage_update

__all__ = [
    "SIGNOFF_REMINDER_KINDS", "STAGE_FIELDS", "TEXT_LIMIT", "CustomerAnswer", "customer_answer",
    "customer_answer_check", "plan_template_choose", "plan_template_default", "portal_link_issue",
    "portal_link_revoke", "problem_attribution", "problem_close", "problem_raise", "problem_reopen",
    "problem_resolve", "project_start", "projects_move_owner", "projects_move_to_account", "signature_key",
    "signer_choices", "signoffs_move_to_contact", "stage_complete", "stage_of_link", "stage_request_signoff",
    "stage_set_promises", "stage_start", "stage_update",
]
