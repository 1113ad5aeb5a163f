from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("practices", "0007_logo_in_practice_folder"),
    ]

    operations = [
        migrations.AddField(
            model_name="practice",
            name="staff_two_factor_required",
            field=models.BooleanField(
                default=False,
                help_text="Every staff member must sign in with a second factor (an authenticator app).",
            ),
        ),
    ]
