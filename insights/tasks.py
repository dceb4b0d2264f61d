"""Thin, idempotent tasks."""

from __future__ import annotations

from celery import shared_task

from insights import snapshots


@shared_task(ignore_result=True)
def refresh_dashboards() -> int:
    """Beat, every minute: the dashboards' default views, recomputed before anyone asks."""
    return snapshots.refresh_defaults()
