from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("practices", "0005_background_task"),
    ]

    operations = [
        migrations.AddField(
            model_name="apikey",
            name="signing_secret",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
    ]
