"""The search indexes of problems, on PostgreSQL only (see crm's 0010_search_indexes for why
they are not in Meta.indexes): trigrams on the title (partial words, typos) and full-text on the
title and description."""

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.search import SearchVector
from django.db import migrations
from django.db.models.functions import Upper

INDEXES = [
    GinIndex(OpClass(Upper("title"), name="gin_trgm_ops"), name="problem_title_trgm"),
    GinIndex(SearchVector("title", "description", config="simple"), name="problem_text_fts"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for index in INDEXES:
            schema_editor.add_index(apps.get_model("delivery", "problem"), index)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for index in INDEXES:
            schema_editor.remove_index(apps.get_model("delivery", "problem"), index)


class Migration(migrations.Migration):

    dependencies = [
        ("delivery", "0004_link_in_customer_links"),
        ("crm", "0010_search_indexes"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
