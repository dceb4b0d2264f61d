"""CustomerLink moved from crm to customer_links: the foreign key follows it in Django's picture
only (the table, and so the database constraint, did not move)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("customer_links", "0001_initial"),
        ("touchpoints", "0004_thank_you_without_score"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="surveyresponse",
                    name="link",
                    field=models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT, related_name="survey_response",
                        to="customer_links.customerlink",
                    ),
                ),
            ],
        ),
    ]
