"""Page-shaped reads of the handover app."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count

from handover.models import Handover, Promise


def work_counts() -> dict[str, int]:
    """How many handovers wait in the review queue and in the acceptance inbox: one grouped
    COUNT, asked once per page and only for the managers whose navigation shows them."""
    waiting: dict[str, int] = dict.fromkeys((Handover.State.SUBMITTED, Handover.State.SALES_APPROVED), 0)
    rows = Handover.objects.filter(state__in=list(waiting)).values("state").annotate(n=Count("pk")).order_by()
    for row in rows:
        waiting[row["state"]] = row["n"]
    return {"review": waiting[Handover.State.SUBMITTED], "inbox": waiting[Handover.State.SALES_APPROVED]}


def review_progress(promises: Iterable[Promise], kind: str) -> tuple[int, int]:
    """(reviewed, live) for a handover's card: of the promises still in force, how many have a
    review of this kind ("sales" in the queue, "feasibility" in the inbox). Uses the prefetched
    reviews (PromiseQuerySet.with_reviews)."""
    live = [p for p in promises if p.state != Promise.State.WITHDRAWN]
    return sum(1 for p in live if p.latest_review(kind)), len(live)
