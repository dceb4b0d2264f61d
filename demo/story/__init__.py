"""The demo story for `manage.py seed_demo`, one module per app, each adding its part on top of
the one before: crm (people, accounts, deals), handover, delivery, touchpoints. Everything goes
through the services, as in real use; `clock` dates each step when the story says it happened."""
