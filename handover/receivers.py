"""handover reacts to crm's signals (crm never imports handover)."""

from typing import Any

from django.dispatch import receiver

from crm.signals import account_reassigned, deal_won, demo_data_loaded, scale_data_seeded
from handover import demo, services


@receiver(deal_won)
def open_handover_for_won_deal(sender: Any, deal: Any, by: Any, **kwargs: Any) -> None:
    """A won deal gets its handover draft in the same transaction."""
    services.handover_open_for_deal(deal=deal, by=by)


@receiver(account_reassigned)
def move_open_handovers(sender: Any, account: Any, from_user: Any, to_user: Any, **kwargs: Any) -> None:
    services.handover_move_rep(account=account, from_user=from_user, to_user=to_user)


@receiver(demo_data_loaded)
def add_demo_handovers(sender: Any, users: Any, rng: Any, now: Any, stdout: Any, **kwargs: Any) -> None:
    demo.seed_handovers(users=users, rng=rng, now=now, stdout=stdout)


@receiver(scale_data_seeded)
def add_scale_handovers(sender: Any, **kwargs: Any) -> None:
    """The bench handovers and promises (first of the higher apps: delivery and touchpoints
    read the accepted handovers written here)."""
    from handover import scale

    scale.seed(**{k: kwargs[k] for k in ("owners", "now", "use_copy", "batch", "progress", "stdout")})
