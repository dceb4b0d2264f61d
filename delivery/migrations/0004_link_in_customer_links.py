"""CustomerLink moved from crm to customer_links: the foreign key follows it in Django's picture
only (the table, and so the database constraint, did not move)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("customer_links", "0001_initial"),
        ("delivery", "0003_signoff_on_behalf"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="signoff",
                    name="link",
                    field=models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT, related_name="signoff",
                        to="customer_links.customerlink",
                    ),
                ),
            ],
        ),
    ]
