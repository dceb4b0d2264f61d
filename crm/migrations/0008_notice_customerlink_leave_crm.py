"""Notice and CustomerLink now belong to outbox and customer_links: crm forgets them in Django's
picture only; their tables and rows stay (see those apps' first migrations)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("crm", "0007_single_line_names"),
        ("outbox", "0001_initial"),
        ("customer_links", "0001_initial"),
        # The foreign keys to CustomerLink point at its new place before crm lets go of it.
        ("delivery", "0004_link_in_customer_links"),
        ("touchpoints", "0005_link_in_customer_links"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(model_name="customerlink", name="account"),
                migrations.RemoveField(model_name="customerlink", name="contact"),
                migrations.RemoveField(model_name="customerlink", name="created_by"),
                migrations.DeleteModel(name="CustomerLink"),
                migrations.DeleteModel(name="Notice"),
            ],
        ),
    ]
