"""The search index of promises, on PostgreSQL only (see crm's 0010_search_indexes for why it
is not in Meta.indexes): full-text on what was promised and where it was said."""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.db import migrations

INDEX = GinIndex(SearchVector("description", "source_reference", config="simple"), name="promise_text_fts")


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.add_index(apps.get_model("handover", "promise"), INDEX)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.remove_index(apps.get_model("handover", "promise"), INDEX)


class Migration(migrations.Migration):

    dependencies = [
        ("handover", "0002_email_failures"),
        ("crm", "0010_search_indexes"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
