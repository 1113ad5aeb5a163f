from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0002_ledger_append_only"),
    ]

    operations = [
        migrations.AddField(
            model_name="refund",
            name="is_whole",
            field=models.BooleanField(default=False),
        ),
    ]
