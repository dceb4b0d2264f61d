"""The claim lease (issue 18): who holds a claimed notice and until when. Safe on a live outbox:
rows claimed before it have no lease and keep the old rule (claimed again once
outbox.notices.CLAIM_TIMEOUT has passed since `claimed_at`); the index is partial, over claimed
rows only (a few hundred at most, outside a burst)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('outbox', '0002_bell'),
    ]

    operations = [
        migrations.AddField(
            model_name='notice',
            name='claimed_by',
            field=models.CharField(blank=True, default='', max_length=200),
        ),
        migrations.AddField(
            model_name='notice',
            name='lease_until',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name='notice',
            index=models.Index(condition=models.Q(('state', 'claimed')), fields=['lease_until'], name='notice_leased'),
        ),
    ]
