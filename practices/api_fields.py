"""Serializer fields shared by every app's API."""

from datetime import UTC

from django.utils import timezone
from rest_framework import serializers


class UtcDateTimeField(serializers.DateTimeField):
    """A time the API answers with: always in UTC (`2026-01-15T15:30:00Z`), whatever practice's zone the request
    runs in, so integrators read one form. (Times sent to the API without an offset are read in the practice's
    zone, which the middleware activates: serializers.DateTimeField does that for input.)"""

    def to_representation(self, value):
        with timezone.override(UTC):
            return super().to_representation(value)
