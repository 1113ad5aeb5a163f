import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_user_phone_verified"),
    ]

    operations = [
        migrations.CreateModel(
            name="SecurityEvent",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("two_factor_on", "Two-factor turned on"),
                            ("two_factor_off", "Two-factor turned off"),
                            ("recovery_codes", "New recovery codes"),
                            ("two_factor_reset", "Two-factor reset"),
                            ("staff_requirement", "Two-factor requirement for staff"),
                        ],
                        max_length=30,
                    ),
                ),
                ("actor_label", models.CharField(blank=True, max_length=200)),
                ("before", models.CharField(blank=True, max_length=100)),
                ("after", models.CharField(blank=True, max_length=100)),
                ("note", models.CharField(blank=True, max_length=300)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "actor",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={"ordering": ["-created_at", "-id"]},
        ),
    ]
