"""Every HTML form of the product, staff and customer-facing, fuzzed through its real view
(reliability.md 29; the API has schemathesis, scripts/api_fuzz.sh).

The forms are found the way a browser finds them: each page of a small world is read as the user
who may act on it, and every `<form method="post">` on it is collected with its inputs, so a form
added to a template is fuzzed without touching this file. Hypothesis then posts generated values
that fit each input's kind (text with NUL, control characters, bidirectional overrides, huge and
unicode strings; huge, negative and not-a-number numbers; dates and times at and past the
calendar's edges, and garbage) and every example must answer below 500, and, when refused (4xx),
leave every table's row count as it was.

A last test fails naming any URL that accepts a POST and that no page's form reaches.
"""

from __future__ import annotations

import os
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from django.apps import apps
from django.contrib.auth.tokens import default_token_generator
from django.forms import BaseForm, BaseFormSet
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm import roles
from crm import services as crm_services
from customer_links.models import CustomerLink
from delivery import services as delivery_services
from delivery.models import Problem, Stage
from flows import actions as flows
from handover import services as handover_services
from handover.models import Handover
from outbox import notices
from saved_views import services as saved_views
from tests.scenarios import accept_deal, approve_deal, make_user
from touchpoints.models import Touchpoint

EXAMPLES = int(os.environ.get("FORM_FUZZ_EXAMPLES", "5"))
APPS = ("crm", "saved_views", "handover", "delivery", "touchpoints", "insights", "auth", "authtoken")

# URLs outside this test: Django's admin, the API (schemathesis) and the developer mail viewer.
NOT_HERE = ("/admin/", "/api/", "/dev/")
# URLs that answer a POST without being a form: what they do with one is the same as with a GET.
CUSTOMERS = {"signer", "surveyed", "portal", "expired"}
LAST = {"logout", "crm:contact_left", "crm:team_end", "crm:deal_win", "delivery:portal_link_revoke",
        "crm:user_deactivate", "saved_views:delete"}
NOT_FORMS = {"crm:home": "redirects to the accounts list", "healthz": "the load balancer's probe"}


# --- Values ------------------------------------------------------------------------------------

HOSTILE_TEXT = [
    "", " ", "\x00", "Acme\x00Robotics", "\x07\x1b[31m", "\x7f", "\x85", "\x9b", "\u202eevil\u202c", "\u2066x\u2069",
    "Line one\r\nLine two", "\t", "x" * 100_000, "\U0001f600" * 300, "<script>alert(1)</script>",
    "'; DROP TABLE crm_account; --", "\ud7ff\ue000\uffff", "%s%n{0}", "../../etc/passwd",
]
HOSTILE_NUMBERS = ["NaN", "nan", "inf", "-inf", "1e309", "-1e309", "-0", "0", "-1", "0.5", "1" * 400,
                   "99999999999999999999", "1,5", "", "abc", "\x00"]
HOSTILE_DATES = ["0001-01-01", "9999-12-31", "10000-01-01", "0000-00-00", "2024-02-30", "-001-01-01", "",
                 "tomorrow", "\x00", "1999-12-31", "2100-12-31"]
HOSTILE_TIMES = ["00:00", "23:59", "24:00", "99:99", "-1:00", "", "noon", "\x00"]
HOSTILE_CHOICES = ["", "garbage", "-1", "0", "99999999999999999999", "\x00", "1.5"]

text = st.one_of(st.text(max_size=60), st.sampled_from(HOSTILE_TEXT))
numbers = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(HOSTILE_NUMBERS),
)
dates = st.one_of(st.dates().map(lambda d: d.isoformat()), st.sampled_from(HOSTILE_DATES), text)
times = st.one_of(st.times().map(lambda t: t.strftime("%H:%M")), st.sampled_from(HOSTILE_TIMES))
datetimes = st.one_of(
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M")),
    st.sampled_from([f"{d}T{t}" for d in HOSTILE_DATES[:4] for t in HOSTILE_TIMES[:3]]),
    dates,
)


@dataclass
class Input:
    name: str
    kind: str  # text, textarea, number, date, time, datetime-local, select, checkbox, hidden, ...
    values: list[str] = field(default_factory=list)  # the value(s) the page offers

    def strategy(self) -> st.SearchStrategy[Any]:
        offered = st.sampled_from(self.values) if self.values else st.just("")
        if self.kind in ("select", "radio", "submit"):
            return st.one_of(offered, st.sampled_from(HOSTILE_CHOICES), text)
        if self.kind == "checkbox":
            return st.one_of(offered, st.sampled_from(["", "off", "\x00"]))
        if self.kind == "hidden":
            # The management form of a formset, `next`, `kind`...: mostly as given, sometimes not.
            return st.one_of(offered, offered, numbers, text)
        if self.kind == "number":
            return numbers
        if self.kind == "date":
            return dates
        if self.kind == "time":
            return times
        if self.kind == "datetime-local":
            return datetimes
        return text


@dataclass
class PostForm:
    who: str
    page: str
    action: str
    inputs: dict[str, Input]

    @property
    def url_name(self) -> str:
        return url_name_of(self.action)


def url_name_of(path: str) -> str:
    match = resolve(urlsplit(path).path)
    return f"{match.namespace}:{match.url_name}" if match.namespace else str(match.url_name)


class FormReader(HTMLParser):
    """The page's POST forms with their inputs, as a browser would submit them."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page = page
        self.forms: list[tuple[str, dict[str, Input]]] = []
        self._current: dict[str, Input] | None = None
        self._select: Input | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            if a.get("method", "get").lower() == "post":
                action = a.get("action") or a.get("hx-post") or self.page
                self._current = {}
                self.forms.append((urljoin(self.page, action), self._current))
            return
        if self._current is None:
            return
        name = a.get("name")
        if tag == "select" and name:
            self._select = self._current.setdefault(name, Input(name, "select"))
        elif tag == "option" and self._select is not None:
            self._select.values.append(a.get("value", ""))
        elif tag == "textarea" and name:
            self._current.setdefault(name, Input(name, "textarea"))
        elif tag in ("input", "button") and name:
            kind = a.get("type", "text" if tag == "input" else "submit").lower()
            entry = self._current.setdefault(name, Input(name, kind))
            entry.values.append(a.get("value", "on" if kind == "checkbox" else ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None
        elif tag == "select":
            self._select = None


# --- The world ---------------------------------------------------------------------------------


@dataclass
class World:
    clients: dict[str, Callable[[], Client]]
    pages: list[tuple[str, str]]  # (who, url)


def _logged_in(user: Any) -> Callable[[], Client]:
    def make() -> Client:
        client = Client()
        client.force_login(user)
        return client
    return make


def _customer(path: str) -> Callable[[], Client]:
    """A customer's browser that opened the emailed link (the token moves to its session)."""
    cookies: dict[str, str] = {}

    def make() -> Client:
        client = Client()
        if not cookies:
            response = client.get(path)
            assert response.status_code == 302, (path, response.status_code)
            cookies.update({k: v.value for k, v in client.cookies.items()})
        else:
            for key, value in cookies.items():
                client.cookies[key] = value
        return client
    return make


def _emailed(mailoutbox: list[Any], marker: str) -> str:
    from django.conf import settings as django_settings

    for message in reversed(mailoutbox):
        for word in message.body.split():
            if marker in word:
                return word[len(django_settings.SITE_URL):]
    raise AssertionError(f"no {marker} link emailed")


@pytest.fixture
def world(account, deal, rep, salesmgr, deliverymgr, delivery, admin_user, presales, mailoutbox,
          django_capture_on_commit_callbacks) -> World:
    capture = django_capture_on_commit_callbacks
    project = accept_deal(deal, rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr, owner=delivery)
    def new_deal(name: str) -> Any:
        return crm_services.deal_create(account=account, by=rep, name=name, value="1000", line_items=[
            {"kind": "product", "name": "Robot arm", "quantity": 1, "unit_price": "1000"}])

    open_deal = new_deal("Open deal")
    lost = new_deal("Lost deal")
    crm_services.deal_lose(deal=lost, by=rep, reason="Budget frozen")  # its page has the reopen form
    draft = new_deal("Draft handover")
    flows.deal_win(deal=draft, by=rep)
    submitted = new_deal("Submitted handover")
    flows.deal_win(deal=submitted, by=rep)
    submitted_handover = Handover.objects.get(deal=submitted)
    handover_services.handover_update(
        handover=submitted_handover, by=rep, customer_expectations="Running by spring.", purchased="Two arms.",
        meeting_at=timezone.now() - timedelta(hours=2), meeting_held=True, meeting_minutes="Held.",
    )
    handover_services.handover_submit(handover=submitted_handover, by=rep)
    approved = approve_deal(new_deal("Approved handover"), rep=rep, salesmgr=salesmgr, deliverymgr=deliverymgr)
    stages = list(project.stages.order_by("position"))
    open_problem = delivery_services.problem_raise(
        account=account, by=delivery, title="Arm jams", category=Problem.Category.choices[0][0],
        severity=Problem.Severity.choices[0][0], project=project,
    )
    resolved = delivery_services.problem_raise(
        account=account, by=delivery, title="Late parts", category=Problem.Category.choices[0][0],
        severity=Problem.Severity.choices[0][0], project=project,
    )
    delivery_services.problem_resolve(problem=resolved, by=delivery, resolution="Shipped.")
    delivery_services.stage_start(stage=stages[2], by=delivery)
    Stage.objects.filter(pk=stages[3].pk).update(needs_signoff=False, signer_role="")  # completed by the owner
    delivery_services.stage_start(stage=Stage.objects.get(pk=stages[3].pk), by=delivery)
    handover_services.promise_record(
        deal=open_deal, by=rep, kind="deliverable", description="Spare arm", source="proposal",
        made_to=account.contacts.order_by("pk").first(),
    )

    # The customer's pages: a sign-off, a survey, the portal, and a link that expired.
    checkup = Touchpoint.objects.filter(account=account, kind="checkup_call").first()
    assert checkup is not None
    with capture(execute=True):
        notices.dispatch(now=checkup.due_at + timedelta(minutes=1))
    survey_path = _emailed(mailoutbox, "/c/survey/open/")
    # After the survey's tick, which also sends the sign-off reminders (with fresh links).
    alice = account.contacts.get(first_name="Alice")
    signing = stages[0]
    delivery_services.stage_start(stage=signing, by=delivery)
    with capture(execute=True):
        delivery_services.stage_request_signoff(
            stage=signing, by=delivery, contact=delivery_services.signer_choices(signing).first(),
            delivered="Kickoff held.",
        )
    signoff_path = _emailed(mailoutbox, "/c/signoff/open/")
    with capture(execute=True):
        delivery_services.portal_link_issue(account=account, by=delivery, contact=alice)
    portal_path = _emailed(mailoutbox, "/c/portal/open/")
    stale_stage = stages[1]
    delivery_services.stage_start(stage=stale_stage, by=delivery)
    with capture(execute=True):
        stale = delivery_services.stage_request_signoff(
            stage=stale_stage, by=delivery, contact=delivery_services.signer_choices(stale_stage).first(), delivered="Set up."
        )
    expired_path = _emailed(mailoutbox, "/c/signoff/open/")
    expired_client = _customer(expired_path)
    expired_client()  # lands while the link still works, then it expires
    CustomerLink.objects.filter(pk=stale.pk).update(
        created_at=timezone.now() - timedelta(days=30), expires_at=timezone.now() - timedelta(seconds=1)
    )

    # An archived account with an archived contact: their Restore buttons.
    shelved = crm_services.account_create(by=rep, name="Shelved account")
    crm_services.contact_archive(
        contact=crm_services.contact_create(account=shelved, by=rep, first_name="Sam"), by=rep,
    )
    crm_services.account_archive(account=shelved, by=rep)
    leaver = make_user("leaver", roles.SALES_REP)
    crm_services.account_create(by=leaver, name="Leaver's account")
    uid = urlsafe_base64_encode(force_bytes(rep.pk))
    reset_token = default_token_generator.make_token(rep)
    team_member = account.team.filter(ended_at__isnull=True).exclude(role="owner").first()
    contact = account.contacts.order_by("pk").first()
    assert team_member is not None and contact is not None

    clients = {
        "rep": _logged_in(rep), "salesmgr": _logged_in(salesmgr), "deliverymgr": _logged_in(deliverymgr),
        "delivery": _logged_in(delivery), "admin": _logged_in(admin_user), "anonymous": Client,
        "signer": _customer(signoff_path), "surveyed": _customer(survey_path), "portal": _customer(portal_path),
        "expired": expired_client,
    }
    a, d = account.pk, open_deal.pk
    pages = [
        ("anonymous", "/login/"), ("anonymous", f"/reset/{uid}/{reset_token}/"), ("anonymous", "/password_reset/"),
        ("rep", "/password_change/"), ("rep", "/accounts/new/"), ("rep", f"/accounts/{a}/"),
        ("rep", f"/accounts/{a}/edit/"), ("rep", f"/accounts/{a}/contacts/new/"), ("rep", f"/contacts/{contact.pk}/edit/"),
        ("salesmgr", f"/accounts/{a}/team/add/"), ("rep", f"/accounts/{a}/deals/new/"), ("rep", f"/deals/{d}/"),
        ("rep", f"/deals/{d}/edit/"), ("rep", f"/deals/{d}/promises/"), ("rep", f"/handovers/{draft.handover.pk}/"),
        ("rep", "/profile/"), ("rep", "/calendar/"), ("salesmgr", f"/accounts/{a}/reassign/"),
        ("salesmgr", "/reassign/book/"), ("salesmgr", f"/users/{leaver.pk}/deactivate/"),
        ("salesmgr", f"/handovers/{submitted_handover.pk}/"), ("salesmgr", f"/deals/{submitted.pk}/promises/"),
        ("salesmgr", "/handovers/review/"), ("deliverymgr", f"/handovers/{approved.pk}/"),
        ("deliverymgr", "/handovers/inbox/"), ("deliverymgr", f"/deals/{submitted.pk}/promises/"),
        ("delivery", f"/deliveries/{project.pk}/"), ("delivery", f"/stages/{stages[2].pk}/edit/"),
        ("delivery", f"/stages/{stages[2].pk}/request-signoff/"), ("delivery", f"/accounts/{a}/problems/new/"),
        ("delivery", f"/problems/{open_problem.pk}/"), ("delivery", f"/problems/{resolved.pk}/"),
        ("delivery", f"/accounts/{a}/"), ("delivery", "/my-week/"), ("delivery", "/calendar/"),
        ("rep", f"/deals/{deal.pk}/promises/"), ("rep", f"/deals/{lost.pk}/"),
        ("rep", f"/accounts/{shelved.pk}/"), ("salesmgr", f"/accounts/{a}/merge/"),
        ("salesmgr", f"/contacts/{contact.pk}/merge/"),
        ("signer", f"/c/signoff/{signing.pk}/"), ("surveyed", f"/c/survey/{checkup.pk}/"),
        ("portal", f"/c/portal/{a}/"), ("expired", f"/c/signoff/{stale_stage.pk}/"),
        # The bell: the review and acceptance requests the tick above sent (stale claims).
        ("salesmgr", "/notifications/"), ("deliverymgr", "/notifications/"), ("rep", "/notifications/email/"),
    ]
    # Saved views: the bar's rename, share and delete forms show for a view of one's own.
    saved_views.saved_view_create(by=salesmgr, list_name="crm:deal_list", name="Big deals", query="amount_min=10000")
    pages += [("rep", "/contacts/"), ("rep", "/deals/"), ("salesmgr", "/deals/"), ("salesmgr", "/contacts/")]
    del team_member
    return World(clients=clients, pages=pages)


def collect_forms(world: World) -> dict[str, PostForm]:
    """One form per URL it posts to (the first page that shows it), read as its user sees it."""
    found: dict[str, PostForm] = {}
    unreadable = []
    for who, url in world.pages:
        response = world.clients[who]().get(url, follow=True)
        # The expired link's page is a 410 that offers a fresh link.
        if response.status_code != (410 if who == "expired" else 200):
            unreadable.append((who, url, response.status_code))
            continue
        page = response.request["PATH_INFO"]
        reader = FormReader(page)
        reader.feed(response.content.decode())
        for action, inputs in reader.forms:
            form = PostForm(who=who, page=page, action=action, inputs=inputs)
            found.setdefault(form.url_name, form)
    assert unreadable == [], f"pages the world cannot show: {unreadable}"
    return found


# --- What "nothing saved" means ------------------------------------------------------------------


def row_counts() -> dict[str, int]:
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.app_label in APPS and not model._meta.proxy
    }


def fuzz(form: PostForm, client_for: Callable[[], Client]) -> list[str]:
    """Posts generated values through the form; returns what went wrong, if anything."""
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    strategy = st.fixed_dictionaries({name: entry.strategy() for name, entry in form.inputs.items()})

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(data=strategy)
    def post(data: dict[str, Any]) -> None:
        client = client_for()
        before = row_counts()
        try:
            response = client.post(form.action, data, HTTP_HX_REQUEST="true" if "hx" in form.action else None)
        except Exception as exc:  # the view raised: a 500 in production
            failures.append(f"{form.url_name} ({form.who}) raised {exc!r} for {_short(data)}\n"
                            + "".join(traceback.format_exception(exc)[-3:]))
            return
        statuses[response.status_code] += 1
        if response.status_code >= 500:
            failures.append(f"{form.url_name} ({form.who}) answered {response.status_code} for {_short(data)}")
        elif refused(response):
            after = row_counts()
            changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
            if changed:
                failures.append(f"{form.url_name} ({form.who}) refused ({response.status_code}) but saved {changed}")

    post()
    if os.environ.get("FORM_FUZZ_REPORT"):  # which answers each form gave, to see what the fuzz reaches
        print(f"{form.url_name} as {form.who}: {dict(statuses)} inputs={sorted(form.inputs)}")
    return failures


def refused(response: Any) -> bool:
    """A 4xx, or a page shown again with a bound form's errors."""
    if 400 <= response.status_code < 500:
        return True
    bound = [
        value for context in (response.context or []) for value in context.flatten().values()
        if isinstance(value, BaseForm | BaseFormSet) and value.is_bound
    ]
    return any(form.errors if isinstance(form, BaseForm) else form.total_error_count() for form in bound)


def _short(data: dict[str, Any]) -> str:
    return repr({k: (v if len(str(v)) < 40 else f"{str(v)[:37]}...") for k, v in data.items()})


# --- The tests -----------------------------------------------------------------------------------


def test_no_html_form_answers_5xx_or_saves_half_when_refused(world):
    forms = collect_forms(world)
    assert len(forms) > 30, sorted(forms)

    # The customer's single-use links first (a contact marked as left loses them); what ends a
    # session or a state the other forms need, last.
    ordered = sorted(forms.values(), key=lambda f: (f.who not in CUSTOMERS, f.url_name in LAST))
    failures = edge_failures(world, forms)
    failures += [failure for form in ordered for failure in fuzz(form, world.clients[form.who])]

    assert failures == [], "\n".join(failures[:20])


def _patterns(resolver: URLResolver | None = None, prefix: str = "", namespace: str = "") -> Iterator[Any]:
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or namespace
            yield from _patterns(entry, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern) and entry.name:
            yield prefix + str(entry.pattern), (f"{namespace}:{entry.name}" if namespace else entry.name)


def _example_path(route: str) -> str:
    """A concrete path for a route: numbers for ids, a word for tokens."""
    import re

    path = "/" + re.sub(r"<int:\w+>", "999999", route)
    path = re.sub(r"<(?:str:)?\w+>", "x", path)
    return path.replace("^", "").replace("$", "").replace("\\Z", "").replace("\\", "")


def test_every_url_that_takes_a_post_has_its_form_fuzzed(world, admin_user):
    forms = collect_forms(world)
    posted: list[str] = []
    for route, name in _patterns():
        path = _example_path(route)
        if path.startswith(NOT_HERE):
            continue
        client = Client()
        client.force_login(admin_user)
        if client.post(path).status_code != 405:
            posted.append(name)

    not_covered = sorted(set(posted) - set(forms) - set(NOT_FORMS))
    assert not_covered == [], f"POST form URLs no page's form reaches (add the page to `world`): {not_covered}"


EDGES = {
    "date": ["0001-01-01", "9999-12-31"],
    "datetime-local": ["0001-01-01T00:00", "9999-12-31T23:59"],
    "number": ["1e309", "99999999999999999999"],
}


def edge_failures(world: World, forms: dict[str, PostForm]) -> list[str]:
    """Beyond the random examples: each edge in each date, date-time and number input, the other
    inputs as the page offers them, so the edge reaches the service."""
    failures = []
    for form in forms.values():
        if form.url_name in LAST:
            continue
        baseline = {name: (entry.values[0] if entry.values else "Fine") for name, entry in form.inputs.items()}
        for name, entry in form.inputs.items():
            for value in EDGES.get(entry.kind, []):
                client = world.clients[form.who]()  # a login writes a session row: before counting
                before = row_counts()
                try:
                    response = client.post(form.action, {**baseline, name: value})
                except Exception as exc:  # the view raised: a 500 in production
                    failures.append(f"{form.url_name} {name}={value!r} raised {exc!r}")
                    continue
                if response.status_code >= 500:
                    failures.append(f"{form.url_name} {name}={value!r} answered {response.status_code}")
                elif refused(response) and row_counts() != before:
                    failures.append(f"{form.url_name} {name}={value!r} refused but saved")
    return failures


QUERY_PARAMETERS = ["page", "before", "from_user", "project", "week", "user", "team", "q", "start", "end",
                    "format", "table", "mine", "owner", "lifecycle", "threads", "state", "severity", "fresh",
                    "archived", "category", "source", "account", "stage", "after", "kind", "sort", "role",
                    "active", "do_not_contact", "status", "close_from", "close_to", "amount_min", "amount_max"]
HOSTILE_QUERY_VALUES = ["99999999999999999999", "-1", "1e309", "0001-01-01", "9999-12-31", "\x00", "x" * 5000,
                        "csv"]


def test_every_page_survives_hostile_query_parameters(world):
    """The pages' query strings (filters, periods, pages, weeks, cursors) at their edges: never a
    5xx. Each request sets every parameter to the same value, to stay fast."""
    pages = [(who, url) for who, url in world.pages if who not in CUSTOMERS | {"anonymous"}]
    pages += [("salesmgr", path) for path in ("/accounts/", "/contacts/", "/deals/", "/contacts/export.csv",
                                              "/deals/export.csv", "/deals/pipeline/", "/problems/", "/users/",
                                              "/team-calendar/", "/insights/performance/", "/insights/risk/",
                                              "/insights/reassignment/", "/insights/delivery/", "/handovers/",
                                              "/deliveries/", "/my-week/", "/accounts/export.csv",
                                              "/problems/export.csv", "/my-week/export.csv",
                                              "/team-calendar/export.csv", "/search/")]
    failures = []
    for who, url in pages:
        client = world.clients[who]()
        for value in HOSTILE_QUERY_VALUES:
            try:
                response = client.get(url, dict.fromkeys(QUERY_PARAMETERS, value))
                if response.streaming:  # a CSV export writes its rows as its body is read
                    b"".join(response.streaming_content)
                status = response.status_code
            except Exception as exc:  # the view raised: a 500 in production
                failures.append(f"{url}?...={value[:20]!r} raised {exc!r}")
                continue
            if status >= 500:
                failures.append(f"{url}?...={value[:20]!r} answered {status}")
    assert failures == [], "\n".join(failures[:30])
