"""The Notice model, moved here from crm: only Django's picture of it moves (the table keeps its
name, crm_notice, and its rows), and so do its content type, so that permissions and admin
history follow it."""

import django.utils.timezone
from django.db import migrations, models


def content_type_to(apps, from_label, to_label, model):
    content_type = apps.get_model("contenttypes", "ContentType")
    if not content_type.objects.filter(app_label=to_label, model=model).exists():
        content_type.objects.filter(app_label=from_label, model=model).update(app_label=to_label)


def forwards(apps, schema_editor):
    content_type_to(apps, "crm", "outbox", "notice")


def backwards(apps, schema_editor):
    content_type_to(apps, "outbox", "crm", "notice")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("crm", "0007_single_line_names"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Notice',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(max_length=60)),
                        ('key', models.CharField(max_length=200, unique=True)),
                        ('target', models.CharField(max_length=80)),
                        ('data', models.JSONField(blank=True, default=dict)),
                        ('due_at', models.DateTimeField()),
                        ('state', models.CharField(choices=[('pending', 'Pending'), ('claimed', 'Claimed'), ('sent', 'Sent'), ('skipped', 'No longer needed'), ('failed', 'Failed'), ('cancelled', 'Cancelled')], default='pending', max_length=10)),
                        ('claimed_at', models.DateTimeField(blank=True, null=True)),
                        ('attempts', models.PositiveSmallIntegerField(default=0)),
                        ('sent_at', models.DateTimeField(blank=True, null=True)),
                        ('recipients', models.JSONField(blank=True, default=list)),
                        ('last_error', models.TextField(blank=True)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                    ],
                    options={
                        'db_table': 'crm_notice',
                        'ordering': ['due_at', 'pk'],
                        'indexes': [models.Index(condition=models.Q(('state', 'pending')), fields=['due_at'], name='notice_pending_due'), models.Index(condition=models.Q(('state', 'claimed')), fields=['claimed_at'], name='notice_claimed'), models.Index(fields=['target', 'state'], name='notice_target_state')],
                        'constraints': [models.CheckConstraint(condition=models.Q(models.Q(('state', 'sent'), _negated=True), ('sent_at__isnull', False), _connector='OR'), name='notice_sent_has_time'), models.CheckConstraint(condition=models.Q(models.Q(('state', 'claimed'), _negated=True), ('claimed_at__isnull', False), _connector='OR'), name='notice_claim_has_time')],
                    },
                ),
            ],
        ),
        migrations.RunPython(forwards, backwards),
    ]
