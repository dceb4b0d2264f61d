"""The 30-day service agenda and the quarterly follow-on (product.md section 4)."""

from django.db import migrations

from touchpoints.agendas import create_default_agendas


def create_agendas(apps, schema_editor):
    create_default_agendas(apps.get_model("touchpoints", "AgendaTemplate"), apps.get_model("touchpoints", "AgendaStep"))


class Migration(migrations.Migration):
    dependencies = [("touchpoints", "0001_initial")]
    operations = [migrations.RunPython(create_agendas, migrations.RunPython.noop)]
