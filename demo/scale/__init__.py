"""The benchmark data for `manage.py seed_scale`, one module per app, each adding its rows for
the rows of the one before that lack them: crm (accounts, history), handover, delivery,
touchpoints. Rows are built here and written in bulk (`bulk`), not through the services."""
