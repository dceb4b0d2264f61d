"""The shape of /api/v1/search/: the results page's groups as JSON (read-only)."""

from rest_framework import serializers


class SegmentSerializer(serializers.Serializer):
    text = serializers.CharField()
    match = serializers.BooleanField(help_text="True for the parts of the text the query matched.")


class ResultSerializer(serializers.Serializer):
    kind = serializers.CharField()
    id = serializers.IntegerField(source="pk")
    title = serializers.CharField()
    url = serializers.CharField(help_text="The page to open: a contact's is their account's page.")
    where = serializers.CharField(help_text="Where the result is: its account, stage, date.")
    reason = serializers.CharField(help_text='Why it matched: "email matches", "phone matches", "name is similar"...')
    matched = SegmentSerializer(many=True, help_text="The text that matched, cut into parts.")


class GroupSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["accounts", "contacts", "deals", "promises", "problems", "activities"])
    title = serializers.CharField(help_text='The kind in words: "Accounts", "Timeline"...')
    count = serializers.IntegerField(help_text="Matches you may see, counted up to count_cap + 1.")
    count_capped = serializers.BooleanField(source="capped", help_text="True when there are more than count_cap.")
    more_url = serializers.CharField(allow_blank=True, help_text="A page with more of this kind (blank: none).")
    results = ResultSerializer(many=True)


class SearchSerializer(serializers.Serializer):
    query = serializers.CharField()
    count_cap = serializers.IntegerField()
    groups = GroupSerializer(many=True, help_text="One per kind, in a fixed order; best match first within each.")
