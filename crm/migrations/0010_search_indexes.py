"""The search indexes, on PostgreSQL only: pg_trgm's trigram indexes on what `matching` looks in
(UPPER(field), which is what `icontains` compiles to, and a phone's digits) and a full-text index
on the timeline's text.

SQLite has neither GIN nor pg_trgm, and rebuilds a table (with every index in Meta.indexes) on
many later migrations, so the indexes stay out of the models' state: they are created here, by
vendor, and the queries build the same expressions (core.search, search.selectors)."""

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.search import SearchVector
from django.db import migrations
from django.db.models.functions import Upper

from core.search import PhoneDigits


def trigram(field, name):
    return GinIndex(OpClass(Upper(field), name="gin_trgm_ops"), name=name)


INDEXES = {
    "account": [
        trigram("name", "account_name_trgm"),
        trigram("city", "account_city_trgm"),
        trigram("industry", "account_industry_trgm"),
    ],
    "contact": [
        trigram("first_name", "contact_first_name_trgm"),
        trigram("last_name", "contact_last_name_trgm"),
        trigram("email", "contact_email_trgm"),
        trigram("title", "contact_title_trgm"),
        GinIndex(OpClass(PhoneDigits("phone"), name="gin_trgm_ops"), name="contact_phone_digits_trgm"),
    ],
    "deal": [trigram("name", "deal_name_trgm")],
    "activity": [GinIndex(SearchVector("subject", "body", config="simple"), name="activity_text_fts")],
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # As TrigramExtension() does, which cannot be unapplied on SQLite. Going back leaves the
    # extension installed: something else may use it.
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for model_name, indexes in INDEXES.items():
        for index in indexes:
            schema_editor.add_index(apps.get_model("crm", model_name), index)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for model_name, indexes in INDEXES.items():
        for index in indexes:
            schema_editor.remove_index(apps.get_model("crm", model_name), index)


class Migration(migrations.Migration):

    dependencies = [
        ("crm", "0009_archive_and_merge"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
