"""Events other apps subscribe to (in their AppConfig.ready). Sent after the transaction commits."""

from django.dispatch import Signal

# A patient finished joining. kwargs: patient, signup_code (as entered, may be ""), arrived_from (the
# join link's `src`: qr, sms, link... or ""), schema_name.
# The referrals app turns a referral code into a referral here.
patient_joined = Signal()
