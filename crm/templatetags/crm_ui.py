"""Small presentation helpers for crm templates."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template
from django.template.defaultfilters import linebreaksbr
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import MONTHS_3
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import Truncator

from core import wording
from core.names import display_name

register = template.Library()

@register.filter
def person(user: Any) -> str:
    """A vendor person's display name: full name, else username; "nobody" for none."""
    return display_name(user)


@register.filter(is_safe=True)
def possessive(name: Any) -> str:
    """{{ account.name|possessive }}: "Northwind Analytics'", "Acme's" (escaped like the name)."""
    return wording.possessive(name)


@register.filter
def initials(user: Any) -> str:
    """Up to two initials of a user, or of a name as `person` gives it."""
    name = user if isinstance(user, str) else person(user)
    parts = [p for p in name.replace(".", " ").split() if p]
    return "".join(p[0] for p in parts[:2]).upper() or "?"


@register.filter
def money(value: Any, currency: str = "") -> str:
    """12345.5 -> "12,345" (whole units read better in lists); keeps cents when there are any."""
    if value in (None, ""):
        return ""
    amount = Decimal(value)
    # Thousands grouped with commas, as humanize's intcomma did (en-gb is the only language: no
    # LocaleMiddleware), without its locale machinery: the pipeline shows dozens of amounts.
    text = f"{int(amount):,}" if amount == amount.to_integral_value() else f"{amount:,.2f}"
    return f"{text} {currency}".strip()


@register.filter
def field_type(bound_field: Any) -> str:
    """The widget's class name in lower case, so templates can lay out checkboxes differently."""
    return bound_field.field.widget.__class__.__name__.lower()


@register.filter
def minutes(delta: Any) -> int:
    """A timedelta in whole minutes (at least 1), for "wait about N minutes"."""
    try:
        return max(1, round(delta.total_seconds() / 60))
    except AttributeError:
        return 1


_TIMELINE_ICONS = {"call": "☎", "meeting": "◎", "email": "✉", "note": "✎"}


def day_month_year_time(moment: Any) -> str:
    """`{{ moment|date:"j M Y H:i" }}` for a moment already in the current time zone, without
    building a DateFormat (a timeline shows 30 of them)."""
    return f"{moment.day} {str(MONTHS_3[moment.month]).title()} {moment.year} {moment:%H:%M}"


@register.simple_tag
def timeline_item(activity: Any) -> SafeString:
    """One timeline entry: an activity or a system event, with its deal, its author and when.

    Built with format_html rather than by an included template: the account page shows 30 of
    them, and the template engine's per-include cost was most of a customer's page's rendering
    (docs/benchmarks.md). format_html escapes every value that is not already safe."""
    kind = activity.kind
    badge = (
        format_html('\n      <span class="badge badge-muted">{}</span>', activity.get_kind_display())
        if not activity.is_event else ""
    )
    deal = format_html('\n      <span class="muted small">· {}</span>', activity.deal.name) if activity.deal_id else ""
    body = linebreaksbr(Truncator(activity.body).chars(280), autoescape=True)
    text = format_html('\n    <p class="tl-text">{}</p>', body) if activity.body else ""
    local = timezone.localtime(activity.occurred_at)
    return format_html(
        '<article class="tl-item tl-{kind}" id="activity-{pk}">\n'
        '  <span class="tl-icon" aria-hidden="true">{icon}</span>\n'
        '  <div class="tl-body">\n'
        '    <div class="tl-head">\n'
        '      <a class="tl-subject" href="{href}">{subject}</a>{badge}{deal}\n'
        "    </div>{text}\n"
        '    <div class="muted small">{who} · <time datetime="{iso}">{when}</time></div>\n'
        "  </div>\n"
        "</article>\n",
        kind=kind, pk=activity.pk, icon=_TIMELINE_ICONS.get(kind, "•"),
        href=reverse("crm:activity_detail", args=[activity.pk]), subject=activity.subject,
        badge=badge, deal=deal, text=text, who=activity.who, iso=local.isoformat(), when=day_month_year_time(local),
    )


@register.simple_tag(takes_context=True)
def sort_header(context: template.Context, key: str, label: str, css: str = "", first: str = "") -> SafeString:
    """A list's column header that sorts by `key` (`?sort=key`, again for `-key`), keeping the
    other filters in the query string and going back to the first page. `first="-"` makes the
    first click sort descending (dates, amounts). Needs `sort` in the context."""
    current = context.get("sort", "")
    if current == key:
        target, direction = f"-{key}", "ascending"
    elif current == f"-{key}":
        target, direction = key, "descending"
    else:
        target, direction = f"{first}{key}", ""
    params = context["request"].GET.copy()
    params.pop("page", None)
    params["sort"] = target
    arrow = {"ascending": " \u2191", "descending": " \u2193"}.get(direction, "")
    aria = format_html(' aria-sort="{}"', direction) if direction else ""
    return format_html(
        '<th class="{}"{}><a class="sort-link" href="?{}">{}<span aria-hidden="true">{}</span></a></th>',
        css, aria, params.urlencode(), label, arrow,
    )


@register.simple_tag(takes_context=True)
def query_without_page(context: template.Context) -> str:
    """The current query string without its page: for links that carry the filters (an export)."""
    params = context["request"].GET.copy()
    params.pop("page", None)
    return params.urlencode()
