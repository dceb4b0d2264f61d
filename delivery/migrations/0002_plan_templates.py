"""The two delivery plans every installation starts with; administrators edit them in the admin."""

from django.db import migrations

from delivery.plans import create_default_plans


def create_plans(apps, schema_editor):
    create_default_plans(apps.get_model("delivery", "PlanTemplate"), apps.get_model("delivery", "PlanTemplateStage"))


class Migration(migrations.Migration):
    dependencies = [("delivery", "0001_initial")]
    operations = [migrations.RunPython(create_plans, migrations.RunPython.noop)]
