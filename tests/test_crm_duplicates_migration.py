"""crm migration 0012 fills the duplicate keys of the accounts that existed before it, in
batches, so the duplicates check finds them."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from crm.models import Account

BEFORE = [("crm", "0011_lists")]


def _migrate(targets: list[tuple[str, str | None]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_the_keys_of_existing_accounts_in_batches(monkeypatch):
    migration = importlib.import_module("crm.migrations.0012_duplicates")
    monkeypatch.setattr(migration, "BATCH", 2)  # three accounts: two batches and a last, empty read
    executor = _migrate(BEFORE)
    try:
        old_apps = executor.loader.project_state(BEFORE).apps
        owner = old_apps.get_model("auth", "User").objects.create(username="owner")
        old_account = old_apps.get_model("crm", "Account")
        for name, website in [("Falcon Freight GmbH", "https://www.falcon.example/about"), ("Kestrel AG", ""),
                              ("Osprey & Co", "osprey.example")]:
            old_account.objects.create(name=name, website=website, owner=owner)
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    keys = dict(Account.objects.values_list("name", "name_key"))
    assert keys == {"Falcon Freight GmbH": "falconfreight", "Kestrel AG": "kestrel", "Osprey & Co": "osprey"}
    assert set(Account.objects.values_list("domain_key", flat=True)) == {"falcon.example", "", "osprey.example"}
