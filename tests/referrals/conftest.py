"""The referral program most referral tests start from: a $100 minimum, 500 points for the referrer and
250 for the friend; Jane, a patient, and her code. (Modules may define their own `jane`.)"""

import pytest

from referrals import services
from referrals.codes import code_for_patient
from referrals.models import RewardKind
from tests.factories import PatientFactory


@pytest.fixture
def program(alpha):
    row = services.referral_settings()
    row.min_purchase_cents = 10_000
    row.referrer_reward_kind = RewardKind.POINTS
    row.referrer_points = 500
    row.referee_reward_kind = RewardKind.POINTS
    row.referee_points = 250
    row.save()
    return row


@pytest.fixture
def jane(alpha):
    return PatientFactory(user__first_name="Jane", user__last_name="Doe")


@pytest.fixture
def jane_code(jane):
    return code_for_patient(jane)
