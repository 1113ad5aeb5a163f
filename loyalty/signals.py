"""Events higher apps (referrals, analytics) subscribe to.

Sent inside the transaction that made the change: a subscriber's writes, and the background tasks it
queues (practices.tasks.enqueue_for_practice), are committed with the change or not at all.
"""

from django.dispatch import Signal

# Purchases were recorded together, one or a batch (repeats are not sent). kwargs: purchases (in the order
# recorded), schema_name.
purchases_recorded = Signal()

# Points were taken back for a refund. kwargs: refund, schema_name.
# The referrals app claws back the rewards of a referral whose qualifying purchase was refunded.
purchase_refunded = Signal()
