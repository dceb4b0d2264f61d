"""The browser UI of the handover, by intent in the modules below (handover/urls.py maps each
URL to its view there):

- `promises`: the promise ledger on a deal;
- `handovers`: the handover page, its steps and its printable summary;
- `work_lists`: the sales manager's review queue, the delivery manager's acceptance inbox and
  the rep's "my handovers";
- `promise_rows`: a promise's row and its forms, wherever it shows;
- `shared`: the small helpers several of them use.

Same rules as crm.views: objects come through handover.permissions (404 for what the user may not
see), writes go only through handover.services (403 from their PermissionDenied, field messages
from their ValidationError, a plain message and 409 for htmx from their Conflict). GET never
changes anything; every action URL is POST only.
"""
