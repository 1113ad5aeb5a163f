"""The POS reads back what was recorded: `GET /api/v1/pos/purchases` and `GET /api/v1/pos/refunds`.

Each item has the shape the POS got when it posted it (PurchaseOut, RefundOut). The lists come a page at a time
in id order, oldest first, with a cursor (practices.pagination.CursorPagination): a POS keeps the `next` link of
its last page and reads on from there later, seeing every row once, however many were added meanwhile.
Filters are checked like any input: a value that is not valid is a 400 naming the parameter.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView

from practices.pagination import BIGINT_MAX, CursorPagination

from .api_pos import ERRORS, PosView, PurchaseCreate, PurchaseIn, PurchaseOut, RefundOut
from .pos_selectors import pos_purchases, pos_refunds

SINCE_HELP = "An ISO 8601 date and time; without an offset, in the practice's time zone."


class PurchaseFiltersIn(serializers.Serializer):
    since = serializers.DateTimeField(required=False, help_text=f"Purchases made at or after this. {SINCE_HELP}")
    patient = serializers.IntegerField(
        required=False, min_value=1, max_value=BIGINT_MAX, help_text="Our patient id (as in `patient_id`)."
    )
    transaction_id = serializers.CharField(required=False, max_length=100, help_text="The POS's id for the sale.")


class RefundFiltersIn(serializers.Serializer):
    since = serializers.DateTimeField(required=False, help_text=f"Refunds recorded at or after this. {SINCE_HELP}")
    patient = serializers.IntegerField(
        required=False, min_value=1, max_value=BIGINT_MAX, help_text="Refunds of this patient's purchases."
    )
    purchase = serializers.IntegerField(
        required=False, min_value=1, max_value=BIGINT_MAX, help_text="Refunds of this purchase (its id)."
    )
    refund_id = serializers.CharField(required=False, max_length=100, help_text="The POS's id for the refund.")


def filters_from(serializer_class: type[serializers.Serializer], request) -> dict:
    """The request's query parameters checked by `serializer_class` (400 with the parameters at fault)."""
    filters = serializer_class(data=request.query_params)
    filters.is_valid(raise_exception=True)
    return filters.validated_data


class PosList(PosView, GenericAPIView):
    """A list of the POS API: the API key's authentication and request limit, a cursor's pages."""

    pagination_class = CursorPagination

    def page_of(self, queryset, serializer_class: type[serializers.Serializer]):
        return self.get_paginated_response(serializer_class(self.paginate_queryset(queryset), many=True).data)


class Purchases(PurchaseCreate, PosList):
    """`/pos/purchases`: POST records a sale (loyalty.api_pos.PurchaseCreate), GET lists them."""

    serializer_class = PurchaseIn  # what OPTIONS describes for POST

    @extend_schema(
        operation_id="pos_purchase_list",
        summary="List purchases",
        description="Every purchase of the practice (also the desk's and imports': their `transaction_id` is "
        "null or the import's), by id, oldest first; follow `next` for the following page.",
        parameters=[PurchaseFiltersIn],
        responses={200: PurchaseOut(many=True), **ERRORS},
    )
    def get(self, request):
        filters = filters_from(PurchaseFiltersIn, request)
        purchases = pos_purchases(
            since=filters.get("since"),
            patient_id=filters.get("patient"),
            transaction_id=filters.get("transaction_id"),
        )
        return self.page_of(purchases, PurchaseOut)


class RefundList(PosList):
    @extend_schema(
        operation_id="pos_refund_list",
        summary="List refunds",
        description="Every refund of the practice's purchases, by id, oldest first; follow `next` for the "
        "following page.",
        parameters=[RefundFiltersIn],
        responses={200: RefundOut(many=True), **ERRORS},
    )
    def get(self, request):
        filters = filters_from(RefundFiltersIn, request)
        refunds = pos_refunds(
            since=filters.get("since"),
            patient_id=filters.get("patient"),
            purchase_id=filters.get("purchase"),
            refund_id=filters.get("refund_id"),
        )
        return self.page_of(refunds, RefundOut)
