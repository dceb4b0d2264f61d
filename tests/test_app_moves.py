"""Notice and CustomerLink moved from crm to outbox and customer_links, with their tasks: a
database migrated before the move migrates in place, keeping its rows, their content types (so permissions and admin
history follow) and, renamed, any stored target that names a link by its old label.

The test migrates its database back to the last migrations before the move, writes rows as the
old code did, migrates forward and reads them through today's models. Run it on PostgreSQL too
(DATABASE_URL=postgres://...), the database production uses. The moved tasks keep their
registered names, so a message queued before a deploy still finds its task.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from config.celery_app import app
from customer_links import tasks as customer_links_tasks
from customer_links.models import CustomerLink
from outbox import tasks as outbox_tasks
from outbox.models import Notice

BEFORE_THE_MOVE = [
    ("crm", "0007_single_line_names"),
    ("delivery", "0003_signoff_on_behalf"),
    ("touchpoints", "0004_thank_you_without_score"),
    ("customer_links", None),
    ("outbox", None),
]


def _migrate(targets: list[tuple[str, str | None]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor


@pytest.fixture
def old_apps() -> Iterator[Any]:
    """The models as they were before the move; the database is migrated forward again after."""
    executor = _migrate(BEFORE_THE_MOVE)
    try:
        yield executor.loader.project_state(BEFORE_THE_MOVE[:3]).apps
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_notices_and_links_written_before_the_move_are_read_after_it(old_apps):
    user_model = old_apps.get_model("auth", "User")
    owner = user_model.objects.create(username="owner", email="owner@vendor.example")
    account = old_apps.get_model("crm", "Account").objects.create(name="Acme Robotics", owner=owner)
    contact = old_apps.get_model("crm", "Contact").objects.create(
        account=account, first_name="Alice", last_name="Martin", email="alice@acme.example"
    )
    now = timezone.now()
    old_link = old_apps.get_model("crm", "CustomerLink").objects.create(
        purpose="portal", account=account, contact=contact, target=f"crm.account:{account.pk}",
        token_hash="a" * 64, reusable=True, created_at=now, expires_at=now + timedelta(days=180),
    )
    about_the_link = f"crm.customerlink:{old_link.pk}"
    old_notice = old_apps.get_model("crm", "Notice").objects.create(
        kind="crm.link_renewal", key="link-renewal:1", target=about_the_link, due_at=now, data={"link": old_link.pk},
    )
    old_apps.get_model("crm", "CustomerLink").objects.create(
        purpose="survey", account=account, contact=contact, target=about_the_link,
        token_hash="b" * 64, created_at=now, expires_at=now + timedelta(days=14),
    )
    content_types = old_apps.get_model("contenttypes", "ContentType")
    notice_type = content_types.objects.get_or_create(app_label="crm", model="notice")[0]
    link_type = content_types.objects.get_or_create(app_label="crm", model="customerlink")[0]
    may_retry = old_apps.get_model("auth", "Permission").objects.get_or_create(
        content_type=notice_type, codename="change_notice", defaults={"name": "Can change notice"}
    )[0]
    owner.user_permissions.add(may_retry)

    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    notice = Notice.objects.get(pk=old_notice.pk)
    assert (notice.kind, notice.key, notice.state, notice.data) == (
        "crm.link_renewal", "link-renewal:1", Notice.State.PENDING, {"link": old_link.pk}
    )
    link = CustomerLink.objects.select_related("account", "contact").get(pk=old_link.pk)
    assert (link.purpose, link.account.name, link.contact.email, link.target) == (
        "portal", "Acme Robotics", "alice@acme.example", f"crm.account:{account.pk}"
    )
    # Targets that named a link by its old label name it by its new one, which target_of gives.
    assert notice.target == CustomerLink.target_of(link) == f"customer_links.customerlink:{link.pk}"
    assert CustomerLink.objects.get(purpose="survey").target == CustomerLink.target_of(link)
    # The content type rows moved (same ids), so permissions and admin history follow the models.
    assert ContentType.objects.get_for_model(Notice).pk == notice_type.pk
    assert ContentType.objects.get_for_model(CustomerLink).pk == link_type.pk
    assert not ContentType.objects.filter(app_label="crm", model__in=["notice", "customerlink"]).exists()
    assert get_user_model().objects.get(pk=owner.pk).has_perm("outbox.change_notice")


@pytest.mark.parametrize(
    ("name", "task"),
    [
        ("crm.tasks.dispatch_notices", outbox_tasks.dispatch_notices),
        ("crm.tasks.deliver_notice", outbox_tasks.deliver_notice),
        ("crm.tasks.deliver_notices", outbox_tasks.deliver_notices),
        ("crm.tasks.email_customer_link", customer_links_tasks.email_customer_link),
    ],
)
def test_a_task_queued_before_the_move_runs_after_it(name, task):
    """A message names its task by the name it was registered under: the moved tasks keep theirs."""
    assert app.tasks[name] == task  # (shared_task gives a proxy of the registered task)
    assert task.name == name
