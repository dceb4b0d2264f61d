"""Receivers crm connects at start-up (see CrmConfig.ready)."""

from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_save
from django.dispatch import receiver

from core import time_zones as core_time_zones
from crm import selectors
from crm.models import LoginSession, UserProfile


@receiver(user_logged_in)
def remember_login_session(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """Records the session key so deactivating the user can end this session."""
    session = getattr(request, "session", None)
    if session is None:
        return
    if session.session_key is None:
        session.save()
    LoginSession.objects.get_or_create(session_key=session.session_key, defaults={"user": user})


@receiver(user_logged_in)
def remember_time_zone(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """Keeps the user's zone in the new session: every page is shown in it, and reading the
    profile on each request would cost every page a query."""
    if request is not None:
        core_time_zones.remember_zone(request, selectors.user_zone(user).key)


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def user_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    if created:
        UserProfile.objects.get_or_create(user=instance)
    elif not instance.is_active:
        # However a user was deactivated (service, admin, shell), their sessions and tokens end.
        from crm.services import user_end_access

        user_end_access(user=instance)
