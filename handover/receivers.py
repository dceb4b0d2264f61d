"""handover reacts to crm's signals (crm never imports handover)."""

from typing import Any

from django.dispatch import receiver

from crm.signals import account_reassigned, deal_won
from handover import services


@receiver(deal_won)
def open_handover_for_won_deal(sender: Any, deal: Any, by: Any, **kwargs: Any) -> None:
    """A won deal gets its handover draft in the same transaction."""
    services.handover_open_for_deal(deal=deal, by=by)


@receiver(account_reassigned)
def move_open_handovers(sender: Any, account: Any, from_user: Any, to_user: Any, **kwargs: Any) -> None:
    services.handover_move_rep(account=account, from_user=from_user, to_user=to_user)

