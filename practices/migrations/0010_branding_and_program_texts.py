from django.db import migrations, models


class Migration(migrations.Migration):
    """The owner's branding (short name, name in text messages) on the practice; its terms and privacy notice."""

    dependencies = [
        ("practices", "0009_practice_currency"),
    ]

    operations = [
        migrations.AddField(
            model_name="practice",
            name="short_name",
            field=models.CharField(
                blank=True,
                help_text="Shown under the app's icon; empty: the first words of the name.",
                max_length=30,
            ),
        ),
        migrations.AddField(
            model_name="practice",
            name="sms_sender_name",
            field=models.CharField(blank=True, max_length=30),
        ),
        migrations.CreateModel(
            name="ProgramTexts",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("terms", models.TextField(blank=True)),
                ("terms_updated_at", models.DateTimeField(blank=True, null=True)),
                ("privacy", models.TextField(blank=True)),
                ("privacy_updated_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "verbose_name_plural": "program texts",
                "constraints": [
                    models.CheckConstraint(condition=models.Q(("id", 1)), name="practices_programtexts_singleton")
                ],
            },
        ),
    ]
