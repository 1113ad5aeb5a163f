"""Events higher apps (referrals, analytics) subscribe to. Sent after the transaction commits."""

from django.dispatch import Signal

# A purchase was recorded (not sent for repeats). kwargs: purchase, schema_name.
purchase_recorded = Signal()
