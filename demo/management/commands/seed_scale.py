"""Bulk data for the benchmark: N accounts with 3 contacts, 1.5 deals and 10 activities each,
then the other apps' data at matching volume.

Not the write path: rows are generated directly (demo.scale), consistent with the database
constraints and with what the services would have written. The parts run in order, each adding
only what is missing for the rows of the parts before it, so a second run adds nothing and a
database seeded by an earlier crm-only run gets the rest:
1. crm (demo.scale.crm): the accounts, the contacts' rare surnames (for a database seeded
   before them), then crm's history (reassignments, champions who left);
2. handover (demo.scale.handover): handovers and promises for the won deals without one;
3. delivery (demo.scale.delivery): projects and problems for the accepted handovers without one;
4. touchpoints (demo.scale.touchpoints): check-ups and surveys for the accepted handovers
   without them.
`--crm-only` stops after the accounts, as the earlier version did.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from demo.scale import crm, delivery, handover, touchpoints


class Command(BaseCommand):
    help = (
        "Bulk benchmark data: N accounts with 3 contacts, 1.5 deals and 10 activities each, over 50 owners, "
        "then the other apps' data (handovers, deliveries, check-ups) at matching volume."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--accounts", type=int, required=True, help="How many bench accounts the database should hold."
        )
        parser.add_argument("--owners", type=int, default=50, help="Sales reps the accounts are spread over.")
        parser.add_argument("--batch", type=int, default=5000, help="Accounts (or deals) per transaction.")
        parser.add_argument("--no-copy", action="store_true", help="Use bulk_create on PostgreSQL too (slower).")
        parser.add_argument(
            "--crm-only", action="store_true",
            help="Only the accounts with their contacts, deals and activities (no history, no other apps' data).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        target, batch = options["accounts"], options["batch"]
        if target < 0 or batch < 1 or options["owners"] < 1:
            raise CommandError("--accounts must be >= 0, --batch and --owners >= 1.")
        use_copy = connection.vendor == "postgresql" and not options["no_copy"]
        progress = options["verbosity"] > 0
        now = timezone.now().replace(microsecond=0)
        started = time.monotonic()
        owners = crm.bench_reps(options["owners"])
        crm_part = crm.Part(now=now, use_copy=use_copy, progress=progress, stdout=self.stdout, style=self.style)
        crm_part.accounts(target=target, batch=batch, owners=owners)
        if options["crm_only"]:
            return
        crm_part.rare_surnames()
        crm_part.history(owners)
        crm_part.contacts_left(owners)
        # Outside any transaction: each part commits its own batches, and reads what the one
        # before it wrote.
        handover.seed(owners=owners, now=now, use_copy=use_copy, batch=batch, progress=progress, stdout=self.stdout)
        delivery.seed(owners=owners, now=now, use_copy=use_copy, batch=batch, progress=progress, stdout=self.stdout)
        touchpoints.seed(owners=owners, now=now, use_copy=use_copy, batch=batch, progress=progress, stdout=self.stdout)
        analyzed = time.monotonic()
        crm.analyze()
        self.stdout.write(f"ANALYZE of crm's tables: {time.monotonic() - analyzed:.1f}s.")
        self.stdout.write(self.style.SUCCESS(f"Seeding finished in {time.monotonic() - started:.1f}s."))
