"""The rewards API: patients see and redeem rewards and manage their vouchers; the POS looks vouchers up and uses them.

Patient endpoints take the patient's session (cookie or X-Session-Token); POS endpoints take the practice's API key
(see loyalty.api_pos). Refusals (not enough points, out of stock, a cancelled voucher...) come out of the services as
domain errors, which the API renders as `{"error": {"code", "message", "fields"}}` with a 4xx status.
"""

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty.api_pos import ErrorOut, PosView
from patients.api_permissions import IsPatient

from . import services
from .models import Redemption, Reward
from .qr import voucher_qr_svg
from .selectors import patient_vouchers, rewards_for

ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut}

# ---------------------------------------------------------------- output


class RewardBriefOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    value = serializers.CharField(source="value_label")


class RewardOut(serializers.Serializer):
    id = serializers.IntegerField(source="reward.pk")
    name = serializers.CharField(source="reward.name")
    description = serializers.CharField(source="reward.description")
    kind = serializers.CharField(source="reward.kind")
    value = serializers.CharField(source="reward.value_label")
    points_cost = serializers.IntegerField(source="reward.points_cost")
    min_tier = serializers.CharField(source="reward.min_tier.name", allow_null=True, default=None)
    ends_at = serializers.DateTimeField(source="reward.ends_at", allow_null=True)
    can_redeem = serializers.BooleanField()
    reason_code = serializers.CharField(
        help_text="Why it can't be redeemed: insufficient_points, tier_required, out_of_stock, limit_reached; "
        "empty when it can."
    )
    reason = serializers.CharField(help_text='For people: "450 more points", "For Gold members"...')
    points_needed = serializers.IntegerField(help_text="Points still needed (0 when the balance covers it).")
    progress_percent = serializers.IntegerField()


class VoucherOut(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField(source="voucher_code")
    reward = RewardBriefOut()
    value = serializers.CharField(source="reward.value_label")
    points_cost = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Redemption.Status.choices)
    status_label = serializers.CharField(source="get_status_display")
    is_usable = serializers.SerializerMethodField(help_text="Issued and not past its expiry.")
    expires_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    used_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)
    points_returned = serializers.IntegerField()

    def get_is_usable(self, voucher: Redemption) -> bool:
        return voucher.status == Redemption.Status.ISSUED and voucher.expires_at > timezone.now()


class VoucherDetailOut(VoucherOut):
    qr_svg = serializers.SerializerMethodField(help_text="An inline <svg> QR code of the voucher code.")

    def get_qr_svg(self, voucher: Redemption) -> str:
        return str(voucher_qr_svg(voucher.voucher_code))


class PatientBriefOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="full_name")


class PosVoucherOut(VoucherOut):
    patient = PatientBriefOut()
    used_via = serializers.CharField(help_text='"desk" or "pos"; empty until used.')


class PosVoucherUseOut(PosVoucherOut):
    used_now = serializers.BooleanField(help_text="False when the voucher had already been used (a repeat).")


# ---------------------------------------------------------------- patient endpoints


class RewardList(GenericAPIView):
    """The rewards offered now, redeemable ones first, each saying whether the patient can redeem it (paginated)."""

    permission_classes = [IsPatient]

    @extend_schema(operation_id="rewards_list", responses={200: RewardOut(many=True), **ERRORS})
    def get(self, request):
        # Every reward is read and ordered (the order depends on the patient's balance and limits), then paged.
        page = self.paginate_queryset(rewards_for(patient=request.user.patient))
        return self.get_paginated_response(RewardOut(page, many=True).data)


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="Optional, 1-100 printable characters, new for each redemption the patient means: the same key "
    "again answers 200 with the voucher it issued, spending nothing (also when both calls arrive together); "
    "the same key for another reward is 409 `idempotency_conflict`.",
)
MAX_KEY_LENGTH = 100


def idempotency_key(request) -> str | None:
    """The request's Idempotency-Key header, None without one; a 400 when it can't be a key."""
    raw = request.headers.get("Idempotency-Key")
    if raw is None:
        return None
    key = raw.strip()
    # Printable ASCII only (space included): what a client's generated key or UUID is made of.
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all(" " <= char <= "~" for char in key):
        raise ValidationError(
            {"Idempotency-Key": [f"Send 1 to {MAX_KEY_LENGTH} printable ASCII characters, e.g. a UUID."]}
        )
    return key


class RewardRedeem(APIView):
    permission_classes = [IsPatient]

    @extend_schema(
        operation_id="rewards_redeem",
        summary="Redeem a reward for points",
        description="Takes the points and issues a voucher. Refusals are 409 (403 when a higher tier is needed). "
        "With an Idempotency-Key, a repeat answers 200 with the voucher the key issued.",
        parameters=[IDEMPOTENCY_KEY],
        request=None,
        responses={
            201: VoucherDetailOut,
            200: OpenApiResponse(VoucherDetailOut, description="A repeat of the Idempotency-Key"),
            400: ErrorOut,
            **ERRORS,
        },
    )
    def post(self, request, reward_id: int):
        key = idempotency_key(request)
        reward = get_object_or_404(Reward, pk=reward_id)
        patient = request.user.patient
        if key is None:
            redemption, created = services.redeem_reward(patient=patient, reward=reward, actor=request.user), True
        else:
            redemption, created = services.redeem_reward_once(
                patient=patient, reward=reward, idempotency_key=key, actor=request.user
            )
        return Response(VoucherDetailOut(redemption).data, status=201 if created else 200)


class MeVouchers(ListAPIView):
    """The signed-in patient's vouchers, ready-to-use ones first (paginated)."""

    permission_classes = [IsPatient]
    serializer_class = VoucherOut

    def get_queryset(self):
        return patient_vouchers(patient=self.request.user.patient)


class MeVoucherDetail(APIView):
    permission_classes = [IsPatient]

    @extend_schema(operation_id="me_vouchers_get", responses={200: VoucherDetailOut, **ERRORS})
    def get(self, request, voucher_id: int):
        voucher = get_object_or_404(patient_vouchers(patient=request.user.patient), pk=voucher_id)
        return Response(VoucherDetailOut(voucher).data)


class MeVoucherCancel(APIView):
    permission_classes = [IsPatient]

    @extend_schema(
        operation_id="me_vouchers_cancel",
        summary="Cancel an unused voucher",
        description="Its points come back. A voucher already used, cancelled or expired is 409.",
        request=None,
        responses={200: VoucherOut, **ERRORS},
    )
    def post(self, request, voucher_id: int):
        # The patient's own vouchers only (another's is a 404), looked up before the service locks anything.
        voucher = get_object_or_404(patient_vouchers(patient=request.user.patient), pk=voucher_id)
        return Response(VoucherOut(services.cancel_redemption(redemption=voucher, actor=request.user)).data)


# ---------------------------------------------------------------- POS endpoints


class PosVoucherDetail(PosView):
    @extend_schema(
        operation_id="pos_voucher_get",
        summary="Look a voucher up by its code",
        description="Spaces, dashes and case in the code don't matter. An unknown code is 404.",
        responses={200: PosVoucherOut, **ERRORS},
    )
    def get(self, request, code: str):
        return Response(PosVoucherOut(services.find_voucher(code=code)).data)


class PosVoucherUse(PosView):
    @extend_schema(
        operation_id="pos_voucher_use",
        summary="Mark a voucher used",
        description="Idempotent: the first call answers used_now=true; later ones used_now=false with when and "
        "where it was used. A cancelled or expired voucher is 409, an unknown code 404.",
        request=None,
        responses={200: OpenApiResponse(PosVoucherUseOut), **ERRORS},
    )
    def post(self, request, code: str):
        redemption, used_now = services.use_voucher(code=code, via="pos")
        redemption.used_now = used_now
        return Response(PosVoucherUseOut(redemption).data)
