"""The two-factor security events become the one audit trail (accounts.AuditEvent).

Each existing row keeps its time, actor, note and values: its kind becomes an action, the account whose
sign-in changed becomes the target, and the before/after words become {"two_factor": "on"} style values.
"""

import django.core.serializers.json
import django.utils.timezone
from django.db import migrations, models

# kind → (action, the field the before/after words were about)
KINDS = {
    "two_factor_on": ("two_factor.turned_on", "two_factor"),
    "two_factor_off": ("two_factor.turned_off", "two_factor"),
    "recovery_codes": ("two_factor.recovery_codes_created", "two_factor"),
    "two_factor_reset": ("two_factor.reset", "two_factor"),
    "staff_requirement": ("practice.two_factor_requirement_changed", "staff_two_factor_required"),
}
REQUIREMENT = {"required": True, "not required": False}


def _label(user) -> str:
    name = f"{user.first_name} {user.last_name}".strip()
    return f"{name} <{user.email}>" if name and user.email else (name or user.email or f"User {user.pk}")


def forwards(apps, schema_editor):
    AuditEvent = apps.get_model("accounts", "AuditEvent")
    schema = schema_editor.connection.schema_name
    practice_id = None
    if any(m._meta.label_lower == "practices.practice" for m in apps.get_models()):
        Practice = apps.get_model("practices", "Practice")
        practice_id = Practice.objects.filter(schema_name=schema).values_list("pk", flat=True).first()
    for event in AuditEvent.objects.select_related("user"):
        action, field = KINDS.get(event.kind, (event.kind, "value"))
        values = []
        for word in (event.old_before, event.old_after):
            if not word:
                values.append({})
            elif field == "staff_two_factor_required":
                values.append({field: REQUIREMENT.get(word, word)})
            else:
                values.append({field: word})
        event.action = action
        event.before, event.after = values
        if event.user_id:
            event.target_type, event.target_id, event.target_label = (
                "accounts.user",
                str(event.user_id),
                _label(event.user),
            )
        elif event.kind == "staff_requirement" and practice_id:
            event.target_type, event.target_id = "practices.practice", str(practice_id)
        event.save(update_fields=["action", "before", "after", "target_type", "target_id", "target_label"])


def backwards(apps, schema_editor):
    AuditEvent = apps.get_model("accounts", "AuditEvent")
    kinds = {action: kind for kind, (action, _) in KINDS.items()}
    words = {True: "required", False: "not required"}
    # Only the two-factor rows existed before; the rest of the trail cannot be kept in the old shape.
    AuditEvent.objects.exclude(action__in=kinds).delete()
    for event in AuditEvent.objects.all():
        event.kind = kinds[event.action]
        before, after = (next(iter(values.values()), "") if values else "" for values in (event.before, event.after))
        event.old_before = words.get(before, before) if isinstance(before, bool) else str(before)
        event.old_after = words.get(after, after) if isinstance(after, bool) else str(after)
        if event.target_type == "accounts.user":
            event.user_id = int(event.target_id)
        event.save(update_fields=["kind", "old_before", "old_after", "user"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_security_event"),
        ("practices", "0001_initial"),
    ]

    operations = [
        migrations.RenameModel("SecurityEvent", "AuditEvent"),
        migrations.RenameField("AuditEvent", "before", "old_before"),
        migrations.RenameField("AuditEvent", "after", "old_after"),
        migrations.AlterField(
            "AuditEvent", "created_at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)
        ),
        migrations.AlterField("AuditEvent", "note", models.CharField(blank=True, max_length=500)),
        migrations.AddField(
            "AuditEvent", "action", models.CharField(default="", max_length=80), preserve_default=False
        ),
        migrations.AddField("AuditEvent", "target_type", models.CharField(blank=True, max_length=100)),
        migrations.AddField("AuditEvent", "target_id", models.CharField(blank=True, max_length=64)),
        migrations.AddField("AuditEvent", "target_label", models.CharField(blank=True, max_length=200)),
        migrations.AddField(
            "AuditEvent",
            "before",
            models.JSONField(blank=True, default=dict, encoder=django.core.serializers.json.DjangoJSONEncoder),
        ),
        migrations.AddField(
            "AuditEvent",
            "after",
            models.JSONField(blank=True, default=dict, encoder=django.core.serializers.json.DjangoJSONEncoder),
        ),
        migrations.AlterField("AuditEvent", "kind", models.CharField(blank=True, max_length=30)),
        migrations.RunPython(forwards, backwards),
        migrations.RemoveField("AuditEvent", "kind"),
        migrations.RemoveField("AuditEvent", "user"),
        migrations.RemoveField("AuditEvent", "old_before"),
        migrations.RemoveField("AuditEvent", "old_after"),
        migrations.AddIndex(
            "AuditEvent", models.Index(fields=["target_type", "target_id"], name="accounts_audit_target")
        ),
        migrations.AddIndex("AuditEvent", models.Index(fields=["action"], name="accounts_audit_action")),
    ]
