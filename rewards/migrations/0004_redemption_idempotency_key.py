from django.db import migrations, models


class Migration(migrations.Migration):
    """A voucher remembers the Idempotency-Key of the API call that issued it, unique per patient."""

    dependencies = [
        ("rewards", "0003_redeem_form_token"),
    ]

    operations = [
        migrations.AddField(
            model_name="redemption",
            name="idempotency_key",
            field=models.CharField(blank=True, max_length=100, null=True),
        ),
        migrations.AddConstraint(
            model_name="redemption",
            constraint=models.UniqueConstraint(
                fields=("patient", "idempotency_key"), name="rewards_redemption_key_once"
            ),
        ),
    ]
