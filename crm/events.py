"""One small function per event kind: each writes the timeline row for a state change.

The timeline is built from these rows (Saleor's order/events.py); every row has the actor (or a
label such as "customer via link" with the address), the UTC time and what changed.
"""

from __future__ import annotations

from typing import Any

from core.names import name_of
from crm.models import Account, Activity, Deal, OwnershipChange


def event_record(
    *,
    account: Account,
    event_type: str,
    subject: str,
    actor: Any = None,
    actor_label: str = "",
    ip_address: str | None = None,
    deal: Deal | None = None,
    body: str = "",
    data: dict[str, Any] | None = None,
) -> Activity:
    """The one writer of system events; other apps call it through their own events.py."""
    return Activity.objects.create(
        account=account,
        deal=deal,
        kind=Activity.Kind.EVENT,
        event_type=event_type,
        subject=subject[:200],
        body=body,
        actor=actor if actor is not None and getattr(actor, "pk", None) else None,
        actor_label=actor_label,
        ip_address=ip_address,
        data=data or {},
    )


def account_created_event(*, account: Account, by: Any) -> Activity:
    return event_record(
        account=account, event_type="account.created", subject=f"Account {account.name} created", actor=by,
        data={"owner": account.owner_id},
    )


def account_updated_event(*, account: Account, by: Any, changed: dict[str, Any]) -> Activity:
    return event_record(
        account=account, event_type="account.updated", subject="Account details changed", actor=by,
        data={"changed": changed},
    )


def lifecycle_changed_event(*, account: Account, by: Any, from_stage: str) -> Activity:
    before = Account.Lifecycle(from_stage).label
    return event_record(
        account=account, event_type="account.lifecycle_changed",
        subject=f"Lifecycle changed from {before} to {account.get_lifecycle_display()}", actor=by,
        data={"from": from_stage, "to": account.lifecycle},
    )


def owner_changed_event(*, change: OwnershipChange, by: Any) -> Activity:
    from_name = name_of(change.from_user) if change.from_user_id else "nobody"
    return event_record(
        account=change.account,
        event_type="account.owner_changed",
        subject=f"Owner changed from {from_name} to {name_of(change.to_user)} ({change.get_reason_display()})",
        body=change.note,
        actor=by,
        data={"from": change.from_user_id, "to": change.to_user_id, "reason": change.reason, "change": change.pk},
    )


def contact_event(*, account: Account, by: Any, event_type: str, subject: str, changed: dict[str, Any]) -> Activity:
    return event_record(account=account, event_type=event_type, subject=subject, actor=by, data=changed)


def team_changed_event(*, account: Account, by: Any, subject: str, data: dict[str, Any]) -> Activity:
    return event_record(account=account, event_type="account.team_changed", subject=subject, actor=by, data=data)


def deal_created_event(*, deal: Deal, by: Any) -> Activity:
    return event_record(
        account=deal.account, deal=deal, event_type="deal.created", subject=f"Deal {deal.name} opened", actor=by,
        data={"stage": deal.stage, "value": str(deal.value), "currency": deal.currency},
    )


def deal_updated_event(*, deal: Deal, by: Any, changed: dict[str, Any]) -> Activity:
    return event_record(
        account=deal.account, deal=deal, event_type="deal.updated", subject=f"Deal {deal.name} changed",
        actor=by, data={"changed": changed},
    )


def deal_stage_changed_event(*, deal: Deal, by: Any, from_stage: str, reason: str = "") -> Activity:
    labels = dict(Deal.Stage.choices)
    return event_record(
        account=deal.account,
        deal=deal,
        event_type=f"deal.{deal.stage}" if deal.stage in ("won", "lost") else "deal.moved",
        subject=f"Deal {deal.name}: {labels[from_stage]} -> {labels[deal.stage]}",
        body=reason,
        actor=by,
        data={"from": from_stage, "to": deal.stage},
    )


def deal_reopened_event(*, deal: Deal, by: Any, from_stage: str, reason: str = "") -> Activity:
    labels = dict(Deal.Stage.choices)
    return event_record(
        account=deal.account,
        deal=deal,
        event_type="deal.reopened",
        subject=f"Deal {deal.name} reopened by {name_of(by)}: {labels[from_stage]} -> {labels[deal.stage]}",
        body=reason,
        actor=by,
        data={"from": from_stage, "to": deal.stage},
    )


def deal_owner_changed_event(*, deal: Deal, by: Any, from_user_id: int | None) -> Activity:
    return event_record(
        account=deal.account, deal=deal, event_type="deal.owner_changed",
        subject=f"Deal {deal.name} moved to {name_of(deal.owner)}", actor=by,
        data={"from": from_user_id, "to": deal.owner_id},
    )



def account_archived_event(*, account: Account, by: Any, restored: bool = False) -> Activity:
    verb = "restored" if restored else "archived"
    return event_record(
        account=account, event_type=f"account.{verb}", subject=f"Account {account.name} {verb}", actor=by,
    )


def account_merged_event(*, account: Account, merged: Account, survivor: Account, by: Any,
                         moved: dict[str, int]) -> Activity:
    """Written on both: the survivor's timeline and the tombstone's say the same thing."""
    return event_record(
        account=account, event_type="account.merged",
        subject=f"Merged {merged.name} (#{merged.pk}) into {survivor.name} (#{survivor.pk}) by {name_of(by)}",
        actor=by, data={"merged": merged.pk, "into": survivor.pk, "moved": moved},
    )


def contact_merged_event(*, account: Account, merged: Any, survivor: Any, by: Any,
                         moved: dict[str, int]) -> Activity:
    return event_record(
        account=account, event_type="contact.merged",
        subject=f"Merged contact {merged.full_name} (#{merged.pk}) into {survivor.full_name} (#{survivor.pk}) "
        f"by {name_of(by)}",
        actor=by, data={"contact": survivor.pk, "merged": merged.pk, "into": survivor.pk, "moved": moved},
    )
