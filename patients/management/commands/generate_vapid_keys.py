"""Print a new VAPID key pair for web push, as shell exports for the environment."""

from cryptography.hazmat.primitives import serialization
from django.core.management.base import BaseCommand
from py_vapid import Vapid
from py_vapid.utils import b64urlencode


class Command(BaseCommand):
    help = (
        "Generate a VAPID key pair (EC P-256) for web push and print it as VAPID_PUBLIC_KEY and "
        "VAPID_PRIVATE_KEY exports. Keep the private key secret; changing the pair invalidates "
        "every existing push subscription."
    )

    def handle(self, *args, **options):
        vapid = Vapid()
        vapid.generate_keys()
        # The raw forms browsers and pywebpush expect: the 32-byte private number and the uncompressed point.
        private_raw = vapid.private_key.private_numbers().private_value.to_bytes(32, "big")
        public_raw = vapid.public_key.public_bytes(
            encoding=serialization.Encoding.X962, format=serialization.PublicFormat.UncompressedPoint
        )
        self.stdout.write(f"export VAPID_PUBLIC_KEY={b64urlencode(public_raw)}")
        self.stdout.write(f"export VAPID_PRIVATE_KEY={b64urlencode(private_raw)}")
