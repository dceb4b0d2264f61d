"""handover adds its demo and bench data when crm's seeding asks (crm never imports handover)."""

from typing import Any

from django.dispatch import receiver

from crm.signals import demo_data_loaded, scale_data_seeded
from handover import demo


@receiver(demo_data_loaded)
def add_demo_handovers(sender: Any, users: Any, rng: Any, now: Any, stdout: Any, **kwargs: Any) -> None:
    demo.seed_handovers(users=users, rng=rng, now=now, stdout=stdout)


@receiver(scale_data_seeded)
def add_scale_handovers(sender: Any, **kwargs: Any) -> None:
    """The bench handovers and promises (first of the higher apps: delivery and touchpoints
    read the accepted handovers written here)."""
    from handover import scale

    scale.seed(**{k: kwargs[k] for k in ("owners", "now", "use_copy", "batch", "progress", "stdout")})
