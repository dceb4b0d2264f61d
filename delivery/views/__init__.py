"""The staff pages of delivery, by intent in the modules below (delivery/urls.py maps each URL to
its view there; the customer's own pages are in delivery/customer_views.py):

- `projects`: "my deliveries" and the project page with its stage board;
- `stages`: the stage actions, and requesting the customer's sign-off;
- `problems`: the problems list, raising a problem and the problem page;
- `portal`: the customer portal link;
- `shared`: the small helpers several of them use.

Same rules as crm.views and handover.views: objects come through delivery.permissions (404 for
what the user may not see), role checks answer 403, writes go only through delivery.services
(field messages from their ValidationError, a 409 page or message from their Conflict). GET never
changes anything; every action URL takes POST only.
"""
