"""The CustomerLink model, moved here from crm: only Django's picture of it moves (the table keeps
its name, crm_customerlink, and its rows), and so do its content type (permissions and admin
history follow it) and any stored target naming a link by its old label."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models
from django.db.models.functions import Concat, Substr

OLD_TARGET, NEW_TARGET = "crm.customerlink:", "customer_links.customerlink:"


def content_type_to(apps, from_label, to_label, model):
    content_type = apps.get_model("contenttypes", "ContentType")
    if not content_type.objects.filter(app_label=to_label, model=model).exists():
        content_type.objects.filter(app_label=from_label, model=model).update(app_label=to_label)


def targets_to(apps, old, new):
    # A target is "<app_label>.<model>:<pk>" (CustomerLink.target_of): one that names a link
    # must name it by its new label, or nothing finds it by target any more.
    for model in (apps.get_model("outbox", "Notice"), apps.get_model("customer_links", "CustomerLink")):
        model.objects.filter(target__startswith=old).update(
            target=Concat(models.Value(new), Substr("target", len(old) + 1))
        )


def forwards(apps, schema_editor):
    content_type_to(apps, "crm", "customer_links", "customerlink")
    targets_to(apps, OLD_TARGET, NEW_TARGET)


def backwards(apps, schema_editor):
    content_type_to(apps, "customer_links", "crm", "customerlink")
    targets_to(apps, NEW_TARGET, OLD_TARGET)


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("crm", "0007_single_line_names"),
        ("outbox", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='CustomerLink',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('purpose', models.CharField(choices=[('signoff', 'Stage sign-off'), ('survey', 'Check-up survey'), ('portal', 'Customer portal')], max_length=10)),
                        ('target', models.CharField(max_length=80)),
                        ('token_hash', models.CharField(editable=False, max_length=64, unique=True)),
                        ('reusable', models.BooleanField(default=False)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('expires_at', models.DateTimeField()),
                        ('used_at', models.DateTimeField(blank=True, null=True)),
                        ('revoked_at', models.DateTimeField(blank=True, null=True)),
                        ('emailed_at', models.DateTimeField(blank=True, null=True)),
                        ('email_failed_at', models.DateTimeField(blank=True, editable=False, null=True)),
                        ('email_error', models.TextField(blank=True, editable=False)),
                        ('renewal_requested_at', models.DateTimeField(blank=True, null=True)),
                        ('account', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='customer_links', to='crm.account')),
                        ('contact', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='links', to='crm.contact')),
                        ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'crm_customerlink',
                        'ordering': ['-created_at', '-pk'],
                        'indexes': [models.Index(fields=['purpose', 'target'], name='link_purpose_target')],
                        'constraints': [models.UniqueConstraint(condition=models.Q(('revoked_at__isnull', True), ('used_at__isnull', True)), fields=('purpose', 'target'), name='link_one_live_per_target'), models.CheckConstraint(condition=models.Q(('expires_at__gt', models.F('created_at'))), name='link_expires_after_creation'), models.CheckConstraint(condition=models.Q(('reusable', False), ('used_at__isnull', True), _connector='OR'), name='link_reusable_never_used')],
                    },
                ),
            ],
        ),
        migrations.RunPython(forwards, backwards),
    ]
