"""Names stored before single-line text was enforced (core.text) may hold line breaks or tabs, pasted
from a spreadsheet; a line break in a name breaks the email subject it reaches. Fold them to one
space, as the forms and the API now do on the way in. Other control characters are left for a
person to see: guessing what they meant would change data silently."""

import re

from django.db import migrations
from django.db.models import Q

# The whitespace core.text.as_single_line folds (kept here: a migration must not change with the app).
WHITESPACE_RUN = re.compile(r"[^\S\x1c-\x1f]+")
BREAKS = ("\n", "\r", "\t", "\x0b", "\x0c", "\x85", "\u2028", "\u2029")

FIELDS = {
    "Account": ["name", "industry", "city", "country"],
    "Contact": ["first_name", "last_name", "title", "phone", "best_time"],
    "Deal": ["name"],
    "DealLineItem": ["name"],
    "Activity": ["subject", "actor_label"],
    "UserProfile": ["phone"],
}


def fold_line_breaks(apps, schema_editor):
    for model_name, names in FIELDS.items():
        model = apps.get_model("crm", model_name)
        broken = Q()
        for name in names:
            for char in BREAKS:
                broken |= Q(**{f"{name}__contains": char})
        for row in model.objects.filter(broken).only("pk", *names).iterator(chunk_size=500):
            values = {name: WHITESPACE_RUN.sub(" ", getattr(row, name)).strip() for name in names}
            model.objects.filter(pk=row.pk).update(**values)


class Migration(migrations.Migration):
    dependencies = [("crm", "0006_email_failures")]

    operations = [migrations.RunPython(fold_line_breaks, migrations.RunPython.noop, elidable=True)]
