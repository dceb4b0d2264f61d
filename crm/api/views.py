"""crm's REST API (/api/v1/). Views are thin: find the object the user may see (404 otherwise),
check the role (403), validate the shape (400), then call the one crm service that does the
write. Lists are always filtered by the requesting user (DRF does not apply object permissions
to lists)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate, get_user_model
from django.db.models import F, Q
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.authtoken.models import Token
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from core.api.parsers import JSONBodyParser
from core.api.schema import ApiAutoSchema, errors
from core.api.views import ApiViewSet, ServiceCreateMixin, ServiceUpdateMixin
from crm import duplicates, permissions, roles, selectors, services
from crm.api import filters
from crm.api import serializers as s
from crm.login_throttle import current_pause
from crm.models import Account, AccountTeamMember, Activity, Contact, Deal, OwnershipChange
from flows import actions as flows

User = get_user_model()


def _line_items(data: dict[str, Any]) -> None:
    if "line_items" in data:
        data["line_items"] = [dict(item) for item in data["line_items"]]


# --- Accounts -------------------------------------------------------------------------------


def _duplicates_body(found: duplicates.Duplicates, kind: str) -> dict[str, Any]:
    """The candidates a new record resembles, only those the caller may see named."""
    if kind == "account":
        rows = [{"id": a.pk, "name": a.name, "url": reverse("api:account-detail", args=[a.pk]),
                 "archived": a.archived_at is not None} for a in found.visible]
    else:
        rows = [{"id": c.pk, "name": f"{c.full_name} ({c.account.name})",
                 "url": reverse("api:contact-detail", args=[c.pk]), "archived": c.archived_at is not None}
                for c in found.visible]
    return {"candidates": rows, "hidden_candidates": found.hidden > 0}


def _duplicate_conflict(found: duplicates.Duplicates, kind: str) -> Response:
    detail = (
        "An account with the same name or web domain exists: send confirm_duplicate: true to create it anyway."
        if kind == "account" else
        "A contact with this email exists: send confirm_duplicate: true to add them anyway."
    )
    return Response({"detail": detail, **_duplicates_body(found, kind)}, status=status.HTTP_409_CONFLICT)


def _moved_permanently(detail: str, survivor_id: int, url: str) -> Response:
    """A tombstone's detail: 301 to the survivor (clients following redirects land on it)."""
    return Response({"detail": detail, "merged_into": survivor_id}, status=status.HTTP_301_MOVED_PERMANENTLY,
                    headers={"Location": url})


@extend_schema_view(
    list=extend_schema(summary="Accounts you may see", description="Search matches name, city and industry."),
    retrieve=extend_schema(
        summary="One account",
        description="A merged account answers 301 to the account it was merged into, the body naming it.",
        responses={200: s.AccountSerializer, 301: s.TombstoneSerializer},
    ),
    create=extend_schema(
        summary="Create an account",
        description="An account whose normalised name (case, accents, punctuation and legal forms aside) or web "
        "domain matches an existing one answers 409 with the candidates you may see, and whether others match, "
        "unless `confirm_duplicate` is true.",
        request=s.AccountCreateSerializer, responses={201: s.AccountSerializer, 409: s.DuplicateConflictSerializer},
    ),
    update=extend_schema(summary="Change an account's details", responses={200: s.AccountSerializer, **errors(409)}),
    partial_update=extend_schema(
        summary="Change some of an account's details", responses={200: s.AccountSerializer, **errors(409)},
    ),
)
@extend_schema(tags=["accounts"])
class AccountViewSet(
    ServiceCreateMixin, ServiceUpdateMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet,
):
    """Customer organisations. No delete: history depends on them (405)."""

    serializer_class = s.AccountSerializer
    create_serializer_class = s.AccountCreateSerializer
    filterset_class = filters.AccountFilter
    search_fields = ["name", "city", "industry"]
    ordering_fields = ["name", "created_at", "updated_at", "lifecycle"]
    ordering = ["name", "pk"]
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Account.objects.none()
        qs = Account.objects.visible_to(self.request.user).select_related("owner").with_thread_counts()
        if self.request.query_params.get("archived") not in ("true", "True", "1"):
            qs = qs.live()  # archived and merged accounts are hidden unless asked for (`archived` filter)
        return qs.order_by("name", "pk")

    def get_object(self) -> Account:
        return permissions.get_account_for(self.request.user, self.kwargs["pk"])

    def perform_service_create(self, data: dict[str, Any]) -> Account:
        return services.account_create(by=self.request.user, **data)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # The role first: a delivery team member gets 403 whatever the body says.
        permissions.require_can_create_account(request.user)
        data = self._body(s.AccountCreateSerializer)
        if not data.pop("confirm_duplicate", False):
            found = duplicates.account_duplicates(user=request.user, name=data["name"], website=data.get("website", ""))
            if found:
                return _duplicate_conflict(found, "account")
        account = self.perform_service_create(data)
        return Response(self.get_serializer(account).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        pk = self.kwargs["pk"]
        try:
            account: Account | None = self.get_object()
        except Http404:
            account = None
        if account is None or account.merged_into_id is not None:
            survivor = permissions.survivor_of_tombstone(request.user, pk)
            if survivor is not None:
                return _moved_permanently(f"Account #{pk} was merged into {survivor.name} (#{survivor.pk}).",
                                          survivor.pk, reverse("api:account-detail", args=[survivor.pk]))
            if account is None:
                raise Http404
        return Response(self.get_serializer(account).data)

    @extend_schema(summary="Accounts resembling a name or web address (before creating one)",
                   parameters=[s.DuplicatesQuerySerializer],
                   responses={200: s.DuplicatesSerializer, **errors(400)}, filters=False)
    @action(detail=False, methods=["get"])
    def duplicates(self, request: Request) -> Response:
        serializer = s.DuplicatesQuerySerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        found = duplicates.account_duplicates(user=request.user, **serializer.validated_data)
        return Response(_duplicates_body(found, "account"))

    @extend_schema(summary="Merge this account into another (managers): everything on it moves to the survivor",
                   description="The merged account stays as a tombstone whose detail answers 301 to the survivor; "
                   "both timelines record the merge. Refused (400) into itself, into a merged or archived account, "
                   "or into one you cannot see.",
                   request=s.MergeSerializer, responses={200: s.AccountSerializer, **errors(409)})
    @action(detail=True, methods=["post"])
    def merge(self, request: Request, pk: str | None = None) -> Response:
        account = self.get_object()
        permissions.require_can_merge(request.user)
        data = self._body(s.MergeSerializer)
        into = Account.objects.visible_to(request.user).filter(pk=data["into"]).first()
        services.account_merge_check(account=account, into=into, by=request.user)
        survivor = flows.account_merge(account=account, into=into, by=request.user)  # type: ignore[arg-type]
        return Response(self.get_serializer(survivor).data)

    @extend_schema(summary="Archive the account: hidden from lists and search, kept in history",
                   request=None, responses={200: s.AccountSerializer, **errors(409)})
    @action(detail=True, methods=["post"])
    def archive(self, request: Request, pk: str | None = None) -> Response:
        account = self.get_object()
        permissions.require_can_archive(request.user, account)
        return Response(self.get_serializer(services.account_archive(account=account, by=request.user)).data)

    @extend_schema(summary="Restore an archived account", request=None,
                   responses={200: s.AccountSerializer, **errors(409)})
    @action(detail=True, methods=["post"])
    def restore(self, request: Request, pk: str | None = None) -> Response:
        account = self.get_object()
        permissions.require_can_archive(request.user, account)
        return Response(self.get_serializer(services.account_restore(account=account, by=request.user)).data)

    def check_can_write(self, instance: Account) -> None:
        permissions.require_can_edit_account(self.request.user, instance)

    def perform_service_update(self, instance: Account, data: dict[str, Any]) -> Account:
        return services.account_update(account=instance, by=self.request.user, **data)

    @extend_schema(summary="The account's timeline: activities and system events, newest first",
                   responses=s.ActivitySerializer(many=True), filters=False)
    @action(detail=True, methods=["get"])
    def timeline(self, request: Request, pk: str | None = None) -> Response:
        account = self.get_object()
        return self._paginated(selectors.account_timeline(account=account), s.ActivitySerializer)

    @extend_schema(summary="The ownership ledger, newest first",
                   responses=s.OwnershipChangeSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"])
    def ownership(self, request: Request, pk: str | None = None) -> Response:
        account = self.get_object()
        ledger = (
            OwnershipChange.objects.filter(account=account)
            .select_related("from_user", "to_user", "assigned_by").order_by("-changed_at", "-pk")
        )
        return self._paginated(ledger, s.OwnershipChangeSerializer)

    @extend_schema(methods=["GET"], summary="The account team, current members first, then past ones",
                   responses=s.TeamMemberSerializer(many=True), filters=False)
    @extend_schema(methods=["POST"], summary="Add a member to the account team",
                   request=s.TeamMemberAddSerializer, responses={201: s.TeamMemberSerializer})
    @action(detail=True, methods=["get", "post"])
    def team(self, request: Request, pk: str | None = None) -> Response:
        account = self.get_object()
        if request.method == "POST":
            permissions.require_can_manage_team(request.user, account)
            data = self._body(s.TeamMemberAddSerializer)
            member = services.team_member_add(account=account, by=request.user, **data)
            return Response(s.TeamMemberSerializer(member).data, status=status.HTTP_201_CREATED)
        members = (
            AccountTeamMember.objects.filter(account=account).select_related("user")
            .order_by(F("ended_at").desc(nulls_first=True), "role", "started_at", "pk")
        )
        return self._paginated(members, s.TeamMemberSerializer)

    @extend_schema(summary="Give the account to a new owner (ledger row, open deals move, new owner emailed)",
                   request=s.AccountReassignSerializer, responses={200: s.OwnershipChangeSerializer})
    @action(detail=True, methods=["post"])
    def reassign(self, request: Request, pk: str | None = None) -> Response:
        account = self.get_object()
        permissions.require_can_reassign(request.user)
        data = self._body(s.AccountReassignSerializer)
        change = flows.account_reassign(account=account, by=request.user, **data)
        return Response(s.OwnershipChangeSerializer(change).data)


# --- Contacts -------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="Contacts on accounts you may see",
        description="The contacts list's filters: `q` matches name, email or phone; archived and merged "
        "contacts, and those of archived or merged accounts, are left out unless `archived=true`. "
        "A bad filter value answers 400 naming the parameter.",
    ),
    retrieve=extend_schema(
        summary="One contact",
        description="A merged contact answers 301 to the contact it was merged into, the body naming it.",
        responses={200: s.ContactSerializer, 301: s.TombstoneSerializer},
    ),
    create=extend_schema(
        summary="Add a contact to an account",
        description="A contact whose email (case aside) another contact has answers 409 with the candidates you "
        "may see, and whether others match, unless `confirm_duplicate` is true.",
        request=s.ContactCreateSerializer, responses={201: s.ContactSerializer, 409: s.DuplicateConflictSerializer},
    ),
    update=extend_schema(summary="Change a contact", responses={200: s.ContactSerializer, **errors(409)}),
    partial_update=extend_schema(
        summary="Change some of a contact", responses={200: s.ContactSerializer, **errors(409)},
    ),
)
@extend_schema(tags=["contacts"])
class ContactViewSet(
    ServiceCreateMixin, ServiceUpdateMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet,
):
    """People at the customer. A contact who leaves is marked `is_active: false`, never deleted."""

    serializer_class = s.ContactSerializer
    create_serializer_class = s.ContactCreateSerializer
    filterset_class = filters.ContactFilter
    search_fields = ["first_name", "last_name", "email"]
    ordering_fields = ["last_name", "first_name", "created_at", "role", "email"]
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Contact.objects.none()
        # The list's filter (filters.ContactFilter) leaves archived and merged contacts, and those
        # of archived or merged accounts, out unless `archived=true`.
        qs = Contact.objects.visible_to(self.request.user)
        return qs.order_by("account_id", "-is_primary", "last_name", "pk")

    def get_object(self) -> Contact:
        return permissions.get_contact_for(self.request.user, self.kwargs["pk"])

    def perform_service_create(self, data: dict[str, Any]) -> Contact:
        return services.contact_create(by=self.request.user, **data)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self._body(s.ContactCreateSerializer)
        if not data.pop("confirm_duplicate", False):
            found = duplicates.contact_duplicates(user=request.user, email=data.get("email", ""))
            if found:
                return _duplicate_conflict(found, "contact")
        contact = self.perform_service_create(data)
        return Response(self.get_serializer(contact).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        contact = self.get_object()
        if contact.merged_into_id is not None:
            survivor_id = contact.merged_into_id
            return _moved_permanently(f"Contact #{contact.pk} was merged into contact #{survivor_id}.", survivor_id,
                                      reverse("api:contact-detail", args=[survivor_id]))
        return Response(self.get_serializer(contact).data)

    @extend_schema(summary="Merge this contact into another of the same account (managers)",
                   description="Promises made to them, sign-offs, customer links, check-ups and survey answers move "
                   "to the survivor; the merged contact stays as a tombstone; the timeline records it.",
                   request=s.MergeSerializer, responses={200: s.ContactSerializer, **errors(409)})
    @action(detail=True, methods=["post"])
    def merge(self, request: Request, pk: str | None = None) -> Response:
        contact = self.get_object()
        permissions.require_can_merge(request.user)
        data = self._body(s.MergeSerializer)
        into = Contact.objects.visible_to(request.user).filter(pk=data["into"]).first()
        services.contact_merge_check(contact=contact, into=into, by=request.user)
        survivor = flows.contact_merge(contact=contact, into=into, by=request.user)  # type: ignore[arg-type]
        return Response(self.get_serializer(survivor).data)

    @extend_schema(summary="Archive the contact: hidden from lists, kept in history", request=None,
                   responses={200: s.ContactSerializer, **errors(409)})
    @action(detail=True, methods=["post"])
    def archive(self, request: Request, pk: str | None = None) -> Response:
        contact = self.get_object()
        permissions.require_can_archive(request.user, contact.account)
        return Response(self.get_serializer(services.contact_archive(contact=contact, by=request.user)).data)

    @extend_schema(summary="Restore an archived contact", request=None,
                   responses={200: s.ContactSerializer, **errors(409)})
    @action(detail=True, methods=["post"])
    def restore(self, request: Request, pk: str | None = None) -> Response:
        contact = self.get_object()
        permissions.require_can_archive(request.user, contact.account)
        return Response(self.get_serializer(services.contact_restore(contact=contact, by=request.user)).data)

    def check_can_write(self, instance: Contact) -> None:
        permissions.require_can_edit_account(self.request.user, instance.account)

    def perform_service_update(self, instance: Contact, data: dict[str, Any]) -> Contact:
        return flows.contact_update(contact=instance, by=self.request.user, **data)


# --- Deals ----------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="Deals on accounts you may see",
        description="The deals list's filters: `q` matches the deal's or its account's name; deals of "
        "archived or merged accounts are left out unless `archived=true`. A bad filter value answers 400 "
        "naming the parameter.",
    ),
    retrieve=extend_schema(summary="One deal with its line items"),
    create=extend_schema(summary="Open a deal", request=s.DealCreateSerializer, responses={201: s.DealSerializer}),
    update=extend_schema(summary="Change an open deal", responses={200: s.DealSerializer, **errors(409)}),
    partial_update=extend_schema(summary="Change some of an open deal",
                                 responses={200: s.DealSerializer, **errors(409)}),
)
@extend_schema(tags=["deals"])
class DealViewSet(
    ServiceCreateMixin, ServiceUpdateMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet,
):
    """Deals and their pipeline stage. The stage changes only through move, win and lose."""

    serializer_class = s.DealSerializer
    create_serializer_class = s.DealCreateSerializer
    filterset_class = filters.DealFilter
    search_fields = ["name", "account__name"]
    ordering_fields = ["created_at", "updated_at", "value", "expected_close_date", "name", "stage"]
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Deal.objects.none()
        return (
            Deal.objects.visible_to(self.request.user)
            .select_related("account", "owner")
            .prefetch_related("line_items")
            .order_by("-created_at", "-pk")
        )

    def get_object(self) -> Deal:
        return permissions.get_deal_for(self.request.user, self.kwargs["pk"])

    def perform_service_create(self, data: dict[str, Any]) -> Deal:
        _line_items(data)
        return services.deal_create(by=self.request.user, **data)

    def check_can_write(self, instance: Deal) -> None:
        permissions.require_can_sell_on(self.request.user, instance.account)

    def perform_service_update(self, instance: Deal, data: dict[str, Any]) -> Deal:
        _line_items(data)
        return services.deal_update(deal=instance, by=self.request.user, **data)

    def _act(self, service: Any, **kwargs: Any) -> Response:
        deal = self.get_object()
        self.check_can_write(deal)
        return Response(self.get_serializer(service(deal=deal, by=self.request.user, **kwargs)).data)

    @extend_schema(summary="Move an open deal to another open stage", request=s.DealMoveSerializer,
                   responses={200: s.DealSerializer, **errors(409)})
    @action(detail=True, methods=["post"])
    def move(self, request: Request, pk: str | None = None) -> Response:
        deal = self.get_object()
        self.check_can_write(deal)
        data = self._body(s.DealMoveSerializer)
        moved = services.deal_move(deal=deal, by=request.user, to=data["stage"], from_stage=data.get("from_stage"))
        return Response(self.get_serializer(moved).data)

    @extend_schema(summary="Win the deal (records closed_at and freezes who sold it)", request=None,
                   responses={200: s.DealSerializer, **errors(409)})
    @action(detail=True, methods=["post"])
    def win(self, request: Request, pk: str | None = None) -> Response:
        return self._act(flows.deal_win)

    @extend_schema(summary="Lose the deal, saying why", request=s.DealLoseSerializer,
                   responses={200: s.DealSerializer, **errors(409)})
    @action(detail=True, methods=["post"])
    def lose(self, request: Request, pk: str | None = None) -> Response:
        deal = self.get_object()
        self.check_can_write(deal)
        data = self._body(s.DealLoseSerializer)
        return Response(self.get_serializer(services.deal_lose(deal=deal, by=request.user, **data)).data)

    @extend_schema(
        summary="Reopen a won or lost deal at an open stage",
        description="A lost deal can always be reopened; a won one only while its handover is a draft not yet "
        "submitted (the draft is discarded). Otherwise 409 with the reason.",
        request=s.DealReopenSerializer, responses={200: s.DealSerializer, **errors(409)},
    )
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, pk: str | None = None) -> Response:
        deal = self.get_object()
        self.check_can_write(deal)
        data = self._body(s.DealReopenSerializer)
        return Response(self.get_serializer(flows.deal_reopen(deal=deal, by=request.user, **data)).data)


# --- Activities -----------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Timeline rows on accounts you may see, newest first"),
    retrieve=extend_schema(summary="One timeline row"),
    create=extend_schema(summary="Log a call, meeting, email or note", request=s.ActivityLogSerializer,
                         responses={201: s.ActivitySerializer}),
)
@extend_schema(tags=["activities"])
class ActivityViewSet(ServiceCreateMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """The activity timeline: logged calls, meetings, emails and notes, and system events."""

    serializer_class = s.ActivitySerializer
    create_serializer_class = s.ActivityLogSerializer
    filterset_class = filters.ActivityFilter
    search_fields = ["subject"]
    ordering_fields = ["occurred_at", "created_at"]

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Activity.objects.none()
        return Activity.objects.visible_to(self.request.user).select_related("actor").order_by("-occurred_at", "-pk")

    def get_object(self) -> Activity:
        return permissions.get_activity_for(self.request.user, self.kwargs["pk"])

    def perform_service_create(self, data: dict[str, Any]) -> Activity:
        return services.activity_log(by=self.request.user, **data)


# --- Book reassignment ----------------------------------------------------------------------


@extend_schema(tags=["reassignments"])
class ReassignmentViewSet(ApiViewSet):
    """Succession: a departing user's whole book to a successor, previewed first."""

    serializer_class = s.BookReassignSerializer

    @extend_schema(
        summary="Reassign a user's whole book (preview first with `preview: true`)",
        description="One ledger row per account, open deals moved, new owners emailed, in one transaction. "
        "With `preview: true` the plan is returned and nothing is written.",
        request=s.BookReassignSerializer, responses={200: s.ReassignmentPlanSerializer},
    )
    def create(self, request: Request) -> Response:
        permissions.require_can_reassign(request.user)
        data = self._body(s.BookReassignSerializer)
        assignments = {row["account"]: row["to_user"] for row in data.pop("assignments", [])}
        plan = flows.book_reassign(by=request.user, assignments=assignments, **data)
        return Response(s.ReassignmentPlanSerializer(plan).data)


# --- Users ----------------------------------------------------------------------------------


@extend_schema_view(list=extend_schema(summary="Active vendor people and their roles (for pickers)"))
@extend_schema(tags=["users"])
class UserViewSet(mixins.ListModelMixin, ApiViewSet):
    """Vendor people: a list for pickers (any signed-in user), and deactivation (managers)."""

    serializer_class = s.UserSerializer
    filterset_class = filters.UserFilter
    search_fields = ["username", "first_name", "last_name", "email"]
    ordering_fields = ["username", "last_name"]

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return User.objects.none()
        with_role = User.groups.through.objects.values("user_id")
        return (
            User.objects.filter(is_active=True).filter(Q(pk__in=with_role) | Q(is_superuser=True))
            .prefetch_related("groups").order_by("username", "pk")
        )

    @extend_schema(summary="Deactivate a user: their book goes to a successor, their sessions and tokens end",
                   request=s.UserDeactivateSerializer, responses={200: s.UserDeactivatedSerializer, **errors(409)})
    @action(detail=True, methods=["post"])
    def deactivate(self, request: Request, pk: str | None = None) -> Response:
        permissions.require_can_manage_users(request.user)
        try:
            user = User.objects.get(pk=int(pk or ""))
        except (ValueError, OverflowError, User.DoesNotExist):
            raise Http404 from None
        data = self._body(s.UserDeactivateSerializer)
        plan = flows.user_deactivate(user=user, by=request.user, **data)
        user.refresh_from_db(fields=["is_active"])
        body = {"id": user.pk, "username": user.get_username(), "is_active": user.is_active, "reassignment": plan}
        return Response(s.UserDeactivatedSerializer(body).data)

    @extend_schema(summary="Set who a user reports to (administrators only)",
                   request=s.ReportingLineSerializer, responses={200: s.ReportingLineResultSerializer})
    @action(detail=True, methods=["put"], url_path="manager")
    def manager(self, request: Request, pk: str | None = None) -> Response:
        if not roles.is_administrator(request.user):
            raise PermissionDenied("Only administrators set who a person reports to.")
        try:
            user = User.objects.get(pk=int(pk or ""))
        except (ValueError, OverflowError, User.DoesNotExist):
            raise Http404 from None
        data = self._body(s.ReportingLineSerializer)
        profile = services.profile_update(user=user, by=request.user, manager=data["manager"])
        body = {"id": user.pk, "username": user.get_username(), "manager": profile.manager_id}
        return Response(s.ReportingLineResultSerializer(body).data)


# --- Auth -----------------------------------------------------------------------------------


@extend_schema(tags=["auth"])
class TokenView(APIView):
    """Username and password for an API token, behind django-axes' login throttling."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    # JSON, or a form post (`curl -d username=... -d password=...`), as DRF's own token view takes.
    parser_classes = [JSONBodyParser, FormParser]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"
    schema = ApiAutoSchema()
    public_endpoint = True

    @extend_schema(
        summary="Exchange a username and password for an API token",
        description="Send the token as `Authorization: Token <token>`. Repeated failures for a username, "
        "or many more from one client address, pause that username or that address for a cool-off (429 with "
        "Retry-After and a detail saying which is paused and until when), even with the right password.",
        request=s.TokenRequestSerializer, responses={200: s.TokenSerializer, **errors(400, 429)}, auth=[],
    )
    def post(self, request: Request) -> Response:
        serializer = s.TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        credentials = serializer.validated_data
        # Axes' backend refuses a locked-out username or address before the password is checked,
        # and its user_login_failed receiver records this failure (both need the HttpRequest).
        user = authenticate(
            request=request._request, username=credentials["username"], password=credentials["password"],
        )
        if getattr(request._request, "axes_locked_out", False):
            # Answer the lockout in JSON here; left set, AxesMiddleware would swap in its HTML page.
            request._request.axes_locked_out = False  # type: ignore[attr-defined]
            pause = current_pause(request._request, credentials)
            return Response(
                {"detail": pause.message()},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
                headers={"Retry-After": str(pause.retry_after(timezone.now()))},
            )
        if user is None:
            raise ValidationError({"non_field_errors": ["Unable to log in with these credentials."]})
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})
