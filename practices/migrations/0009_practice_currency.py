from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("practices", "0008_staff_two_factor_required"),
    ]

    operations = [
        migrations.AddField(
            model_name="practice",
            name="currency",
            field=models.CharField(
                choices=[
                    ("USD", "US dollar ($)"),
                    ("CAD", "Canadian dollar ($)"),
                    ("AUD", "Australian dollar ($)"),
                    ("NZD", "New Zealand dollar ($)"),
                    ("MXN", "Mexican peso ($)"),
                    ("GBP", "Pound sterling (£)"),
                    ("EUR", "Euro (€)"),
                    ("CHF", "Swiss franc (CHF)"),
                ],
                default="USD",
                help_text="Prices and amounts on pages.",
                max_length=3,
            ),
        ),
    ]
