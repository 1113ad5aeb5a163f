"""The POS lists the practice's vouchers: `GET /api/v1/pos/vouchers?patient=&status=&since=`.

Authenticated and limited like the rest of the POS API (loyalty.api_pos.PosView); a page at a time in id order,
oldest first, with a cursor (practices.pagination.CursorPagination), as the POS's purchase and refund lists.
Looking one voucher up by its code and using it stay in rewards.api.
"""

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers

from loyalty.api_pos import ERRORS
from loyalty.api_pos_lists import SINCE_HELP, PosList, filters_from
from practices.pagination import BIGINT_MAX

from .models import Redemption
from .selectors import pos_vouchers


class VoucherFiltersIn(serializers.Serializer):
    patient = serializers.IntegerField(
        required=False, min_value=1, max_value=BIGINT_MAX, help_text="Vouchers of this patient (our id)."
    )
    status = serializers.ChoiceField(choices=Redemption.Status.choices, required=False)
    since = serializers.DateTimeField(required=False, help_text=f"Vouchers issued at or after this. {SINCE_HELP}")


class PosVoucherListOut(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField(source="voucher_code")
    patient_id = serializers.IntegerField()
    reward_id = serializers.IntegerField()
    reward_name = serializers.CharField(source="reward.name")
    value = serializers.CharField(source="reward.value_label", help_text='"$50.00 credit", "10% off"...')
    points_cost = serializers.IntegerField(help_text="0 for a gift (e.g. a referral credit).")
    status = serializers.ChoiceField(choices=Redemption.Status.choices)
    is_usable = serializers.SerializerMethodField(help_text="Issued and not past its expiry: it can be used now.")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    used_at = serializers.DateTimeField(allow_null=True)

    def get_is_usable(self, voucher: Redemption) -> bool:
        return voucher.status == Redemption.Status.ISSUED and voucher.expires_at > timezone.now()


class PosVoucherList(PosList):
    @extend_schema(
        operation_id="pos_voucher_list",
        summary="List vouchers",
        description="The practice's vouchers, by id, oldest first; follow `next` for the following page. A voucher "
        "past its expiry stays `issued` until the daily job expires it: `is_usable` says whether it can be used.",
        parameters=[VoucherFiltersIn],
        responses={200: PosVoucherListOut(many=True), **ERRORS},
    )
    def get(self, request):
        filters = filters_from(VoucherFiltersIn, request)
        vouchers = pos_vouchers(
            patient_id=filters.get("patient"), status=filters.get("status"), since=filters.get("since")
        )
        return self.page_of(vouchers, PosVoucherListOut)
