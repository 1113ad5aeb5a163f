"""Patient pages and API of the points engine: balance, tier, expiry and the full history."""

from django.core.paginator import Paginator
from django.shortcuts import render
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from patients.access import patient_required
from patients.api_permissions import IsPatient

from .selectors import patient_ledger, points_summary

HISTORY_PAGE_SIZE = 30


@patient_required
def history(request):
    patient = request.user.patient
    page = Paginator(patient_ledger(patient=patient), HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "loyalty/history.html", {"page": page, "summary": points_summary(patient=patient)})


class TierOut(serializers.Serializer):
    name = serializers.CharField()
    threshold_points = serializers.IntegerField()
    multiplier_percent = serializers.IntegerField()
    perks = serializers.CharField()


class PointsOut(serializers.Serializer):
    balance = serializers.IntegerField()
    lifetime_earned = serializers.IntegerField()
    value_cents = serializers.IntegerField()
    earned_last_12_months = serializers.IntegerField()
    tier = TierOut(allow_null=True)
    next_tier = TierOut(allow_null=True)
    points_to_next_tier = serializers.IntegerField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    expiring_points = serializers.IntegerField()


class MePoints(APIView):
    """The signed-in patient's balance, tier, next tier and expiry."""

    permission_classes = [IsPatient]

    @extend_schema(responses={200: PointsOut})
    def get(self, request):
        return Response(PointsOut(points_summary(patient=request.user.patient)).data)


class LedgerEntryOut(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    kind_label = serializers.CharField(source="get_kind_display")
    delta = serializers.IntegerField()
    balance_after = serializers.IntegerField()
    note = serializers.CharField()
    purchase_id = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()


class MeLedger(ListAPIView):
    """Every change to the signed-in patient's points, newest first (paginated)."""

    permission_classes = [IsPatient]
    serializer_class = LedgerEntryOut

    def get_queryset(self):
        return patient_ledger(patient=self.request.user.patient)
