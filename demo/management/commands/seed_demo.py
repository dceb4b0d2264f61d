"""Demo data for `make run`: one user per role and about fifty customer relationships, with
their handovers, deliveries and check-ups.

The story is told app by app, in order, each part building on what the one before wrote: crm's
people and accounts (demo.story.crm), then the handovers of the won deals (demo.story.handover),
the delivery projects those started (demo.story.delivery) and the check-up agendas they
scheduled (demo.story.touchpoints).

Idempotent: a second run finds the demo accounts and changes nothing. Refused when DEBUG is off,
so it never lands in a production database.
"""

from __future__ import annotations

import random
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.template.defaultfilters import pluralize
from django.utils import timezone

from demo.story import crm, delivery, handover, touchpoints


class Command(BaseCommand):
    help = "Loads demo users (one per role, password 'keepwarm') and about 50 realistic accounts. Idempotent."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("seed_demo loads demo logins with a known password; it runs only with DEBUG on.")
        rng = random.Random(20240501)  # the same demo every time
        now = timezone.now().replace(minute=0, second=0, microsecond=0)
        password = settings.KEEPWARM.get("DEMO_PASSWORD", "keepwarm")
        story = crm.Story(rng=rng, now=now, stdout=self.stdout)
        with transaction.atomic():
            users, created_users = story.users(password)
            if story.loaded():
                if created_users:
                    self.stdout.write(
                        f"Created {created_users} missing demo user{pluralize(created_users)}; "
                        "demo accounts already present."
                    )
                else:
                    self.stdout.write("Demo data already present; nothing changed.")
                story.print_logins(password)
                return
            story.accounts(users)
            handover.seed_handovers(users=users, rng=rng, now=now, stdout=self.stdout)
            delivery.seed_deliveries(users=users, rng=rng, now=now, stdout=self.stdout)
            touchpoints.seed_touchpoints(users=users, rng=rng, now=now, stdout=self.stdout)
        counts = story.counts()
        self.stdout.write(self.style.SUCCESS("Demo data loaded: " + ", ".join(f"{v} {k}" for k, v in counts.items())))
        story.print_logins(password)
