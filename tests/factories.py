import factory
from django.db import connection
from django.utils import timezone

from accounts.models import User
from practices.models import StaffMember

STAFF_PASSWORD = "staff-pass-1234"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.test")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.PostGenerationMethodCall("set_password", STAFF_PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class StaffMemberFactory(factory.django.DjangoModelFactory):
    """A staff member of the practice the connection is in."""

    class Meta:
        model = StaffMember

    user = factory.SubFactory(UserFactory)
    role = StaffMember.Role.FRONT_DESK

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        assert connection.schema_name != "public", "enter a practice before creating staff"
        return super()._create(model_class, *args, **kwargs)


class PatientFactory(factory.django.DjangoModelFactory):
    """A patient of the practice the connection is in (phone numbers are valid US numbers)."""

    class Meta:
        model = "patients.Patient"

    user = factory.SubFactory(
        UserFactory,
        email=None,
        phone=factory.Sequence(lambda n: f"+1415555{n % 10000:04d}"),
        password=None,
    )
    status = "active"
    source = "qr"
    joined_at = factory.LazyFunction(timezone.now)


class CatalogItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "loyalty.CatalogItem"

    name = factory.Sequence(lambda n: f"Treatment {n}")
    category = "Injectables"
    price_cents = 10_000
    earning = "per_dollar"


class TierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "loyalty.Tier"

    name = factory.Sequence(lambda n: f"Tier {n}")
    threshold_points = factory.Sequence(lambda n: 500 * (n + 1))
    multiplier_percent = 150


class EarningActionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "loyalty.EarningAction"

    kind = "custom"
    name = factory.Sequence(lambda n: f"Action {n}")
    points = 100
    limit = "once"


def sign_in_staff(client, role: str = "front_desk", **user) -> StaffMember:
    """A new staff member of the current practice with `role`, signed in on `client`."""
    member = StaffMemberFactory(role=role, **{f"user__{key}": value for key, value in user.items()})
    client.logout()
    client.post("/staff/login/", {"login": member.user.email, "password": STAFF_PASSWORD})
    return member


class RewardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "rewards.Reward"

    name = factory.Sequence(lambda n: f"Reward {n}")
    kind = "credit"
    credit_cents = 5_000
    points_cost = 500
