"""The shapes of the insights API: read-only, the selectors' dataclasses as JSON. The figures'
definitions are written beside their code in insights.selectors' modules."""

from __future__ import annotations

from rest_framework import serializers


class FilterSerializer(serializers.Serializer):
    start = serializers.DateField(required=False, help_text="First day of the period (default: 89 days before `end`).")
    end = serializers.DateField(required=False, help_text="Last day of the period, included (default: today).")
    team = serializers.IntegerField(required=False, help_text="A manager's user id: their reports and them.")


class PeriodSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()


class ScorecardSerializer(serializers.Serializer):
    person_id = serializers.IntegerField(allow_null=True, help_text="Null on the team total row.")
    name = serializers.CharField()
    role = serializers.CharField()
    is_active = serializers.BooleanField()
    deals_won = serializers.IntegerField()
    won_value = serializers.DictField(child=serializers.DecimalField(max_digits=18, decimal_places=2),
                                      help_text="Value of the deals won, per currency.")
    promises_made = serializers.IntegerField()
    promises_kept = serializers.IntegerField()
    promises_broken = serializers.IntegerField()
    promises_reset = serializers.IntegerField()
    promises_withdrawn = serializers.IntegerField()
    promises_active = serializers.IntegerField()
    kept_rate = serializers.FloatField(allow_null=True, help_text="Percent: kept / (kept + broken).")
    problems_traced = serializers.IntegerField()
    won_deals_involved = serializers.IntegerField()
    problems_per_won_deal = serializers.FloatField(allow_null=True)
    handovers_returned = serializers.IntegerField()
    handovers_rejected = serializers.IntegerField()
    median_days_won_to_accepted = serializers.FloatField(allow_null=True)
    median_day30_satisfaction = serializers.FloatField(allow_null=True)
    day30_answers = serializers.IntegerField()
    checkups_due = serializers.IntegerField()
    checkups_on_time = serializers.IntegerField()
    checkups_on_time_rate = serializers.FloatField(allow_null=True)


class MonthSerializer(serializers.Serializer):
    month = serializers.DateField()
    deals_won = serializers.IntegerField()
    promises_made = serializers.IntegerField()
    promises_kept = serializers.IntegerField()
    promises_broken = serializers.IntegerField()
    problems_traced = serializers.IntegerField()


class PerformanceSerializer(serializers.Serializer):
    period = PeriodSerializer()
    team = serializers.IntegerField(allow_null=True)
    rows = ScorecardSerializer(many=True)
    total = ScorecardSerializer(allow_null=True, help_text="The team total; null for a rep or pre-sales viewer.")
    trend = MonthSerializer(many=True)
    as_of = serializers.DateTimeField(
        help_text="When these figures were computed: at most INSIGHTS_MAX_AGE_SECONDS (120 s) ago, or now with "
        "`fresh=1`."
    )


class OwnerSerializer(serializers.Serializer):
    owner_id = serializers.IntegerField()
    name = serializers.CharField()
    is_active = serializers.BooleanField()
    accounts = serializers.IntegerField()


class AccountRowSerializer(serializers.Serializer):
    account_id = serializers.IntegerField()
    name = serializers.CharField()
    owner_id = serializers.IntegerField()
    owner = serializers.CharField()
    owner_active = serializers.BooleanField()
    contacts = serializers.IntegerField(allow_null=True)
    vendor_people = serializers.IntegerField(allow_null=True)


class ChangeSerializer(serializers.Serializer):
    changed_at = serializers.DateTimeField()
    account_id = serializers.IntegerField()
    account = serializers.CharField()
    from_user = serializers.CharField()
    to_user = serializers.CharField()
    reason = serializers.CharField()
    reason_label = serializers.CharField()
    note = serializers.CharField()
    assigned_by = serializers.CharField()


class ReassignmentSerializer(serializers.Serializer):
    as_of = serializers.DateTimeField(
        required=False, help_text="When these figures were computed: at most 120 s ago, or now with `fresh=1`."
    )
    period = PeriodSerializer()
    team = serializers.IntegerField(allow_null=True)
    owners = OwnerSerializer(many=True)
    orphan_count = serializers.IntegerField(help_text="Accounts owned by inactive users.")
    orphan_owners = OwnerSerializer(many=True)
    orphans = AccountRowSerializer(many=True, help_text="The first 100 of them.")
    single_threaded_count = serializers.IntegerField(help_text="Counted up to 1,001: 1,001 means more than 1,000.")
    single_threaded = AccountRowSerializer(many=True, help_text="The first 100 single-threaded customers.")
    changes_by_reason = serializers.DictField(child=serializers.IntegerField())
    change_count = serializers.IntegerField()
    changes = ChangeSerializer(many=True, help_text="The latest 100 ownership changes of the period.")


class ReasonSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # shadows Field.label, as the data names it
    points = serializers.IntegerField()


class RiskRowSerializer(serializers.Serializer):
    account_id = serializers.IntegerField()
    account = serializers.CharField()
    owner = serializers.CharField()
    accepted_at = serializers.DateTimeField()
    days_since_acceptance = serializers.IntegerField()
    score = serializers.IntegerField()
    reasons = ReasonSerializer(many=True)


class RiskSerializer(serializers.Serializer):
    as_of = serializers.DateTimeField()
    team = serializers.IntegerField(allow_null=True)
    customers = serializers.IntegerField(help_text="Customers in their first 90 days (every one is in `rows`).")
    at_risk = serializers.IntegerField(help_text="Of those, how many have a risk score above zero.")
    rows = RiskRowSerializer(many=True)


class WaitingSerializer(serializers.Serializer):
    handover_id = serializers.IntegerField()
    account_id = serializers.IntegerField()
    account = serializers.CharField()
    deal = serializers.CharField()
    rep = serializers.CharField()
    approved_at = serializers.DateTimeField(allow_null=True)
    accept_deadline = serializers.DateTimeField(allow_null=True)
    hours_left = serializers.FloatField(allow_null=True)
    overdue = serializers.BooleanField()


class StageRowSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    name = serializers.CharField()
    projects = serializers.IntegerField()
    awaiting_signoff = serializers.IntegerField()


class CategorySerializer(serializers.Serializer):
    category = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # shadows Field.label, as the data names it
    raised = serializers.IntegerField()
    open = serializers.IntegerField()
    resolved = serializers.IntegerField()
    median_hours_to_resolve = serializers.FloatField(allow_null=True)


class DeliverySerializer(serializers.Serializer):
    as_of = serializers.DateTimeField(
        required=False, help_text="When these figures were computed: at most 120 s ago, or now with `fresh=1`."
    )
    period = PeriodSerializer()
    team = serializers.IntegerField(allow_null=True)
    waiting = WaitingSerializer(many=True)
    active_projects = serializers.IntegerField()
    completed_in_period = serializers.IntegerField()
    projects_by_stage = StageRowSerializer(many=True)
    problems_by_category = CategorySerializer(many=True)
