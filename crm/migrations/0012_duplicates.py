"""The duplicates check's keys: each account's normalised name and web domain in indexed
columns (filled here for the existing accounts, in batches), and contacts' emails indexed case
aside."""

import django.db.models.functions.text
from django.db import migrations, models

from crm.duplicate_keys import domain_key, name_key

BATCH = 2000


def fill_keys(apps, schema_editor):
    Account = apps.get_model("crm", "Account")
    last = 0
    while True:
        rows = list(Account.objects.filter(pk__gt=last).order_by("pk").only("pk", "name", "website")[:BATCH])
        if not rows:
            break
        for row in rows:
            row.name_key = name_key(row.name)
            row.domain_key = domain_key(row.website)
        Account.objects.bulk_update(rows, ["name_key", "domain_key"])
        last = rows[-1].pk


class Migration(migrations.Migration):

    # Not atomic on PostgreSQL, so each batch commits on its own at a million accounts.
    atomic = False

    dependencies = [
        ("crm", "0011_lists"),
    ]

    operations = [
        migrations.AddField(
            model_name="account",
            name="domain_key",
            field=models.CharField(blank=True, editable=False, max_length=300, default=""),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="account",
            name="name_key",
            field=models.CharField(blank=True, editable=False, max_length=200, default=""),
            preserve_default=False,
        ),
        migrations.RunPython(fill_keys, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="account",
            index=models.Index(fields=["name_key"], name="account_name_key"),
        ),
        migrations.AddIndex(
            model_name="account",
            index=models.Index(condition=models.Q(("domain_key", ""), _negated=True), fields=["domain_key"],
                               name="account_domain_key"),
        ),
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(django.db.models.functions.text.Upper("email"), name="contact_email_ci"),
        ),
    ]
