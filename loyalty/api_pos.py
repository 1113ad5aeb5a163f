"""The POS API: the practice's point-of-sale system records purchases and refunds and looks patients up.

Every call carries one of the practice's API keys (the owner creates them at /staff/settings/api-keys/),
as `Authorization: Bearer <key>` or `X-Api-Key: <key>`, optionally signed with
`X-Signature: sha256=<HMAC-SHA256 of the raw body>` (see practices.api_keys). Keys live in the
practice's schema, so a key opens its own practice only.

A patient is named by exactly one of `{"phone": "..."}`, `{"id": 12}` (our patient id, as returned
by `GET /pos/patients`) or `{"member_code": "..."}`: the practice's own id for the patient
(`Patient.external_id`, as set by a patient import). Errors use the shared body
`{"error": {"code", "message", "fields"}}`; field names of nested input are paths (`lines[1].item_id`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Subquery
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotAuthenticated, ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from patients.errors import InvalidPhone
from patients.phones import normalize_phone
from practices.api_keys import ApiKeyAuthentication, HasPracticeApiKey

from . import services
from .errors import PurchaseNotFound
from .models import CatalogItem, PointsAccount, Purchase, Refund
from .pos import pos_patient, record_pos_purchase, refund_pos_purchase

# A purchase dated this far ahead is a clock problem at the POS, not a sale.
MAX_CLOCK_SKEW = timedelta(minutes=5)
MAX_QUANTITY = 10_000
# $1,000,000: far above any sale, and keeps totals and points inside their integer columns.
MAX_PURCHASE_CENTS = 100_000_000
MAX_LINES = 200
BIGINT_MAX = 2**63 - 1


# ---------------------------------------------------------------- input


class PatientRefIn(serializers.Serializer):
    phone = serializers.CharField(required=False, max_length=32)
    id = serializers.IntegerField(required=False, min_value=1, max_value=BIGINT_MAX)
    member_code = serializers.CharField(required=False, max_length=64)

    def validate_phone(self, value: str) -> str:
        try:
            return normalize_phone(value)
        except InvalidPhone as error:
            raise serializers.ValidationError(error.message) from None

    def validate(self, data: dict) -> dict:
        if len(data) != 1:
            raise serializers.ValidationError("Name the patient by exactly one of phone, id or member_code.")
        return data


class PurchaseLineIn(serializers.Serializer):
    item_id = serializers.CharField(required=False, max_length=64, help_text="The catalog item's POS id.")
    name = serializers.CharField(required=False, max_length=120, help_text="For a line without item_id.")
    category = serializers.CharField(required=False, max_length=60, allow_blank=True, default="")
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY, default=1)
    unit_price_cents = serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_PURCHASE_CENTS, help_text="Defaults to the catalog item's price."
    )

    def validate(self, data: dict) -> dict:
        if "item_id" not in data:
            if not data.get("name", "").strip():
                raise serializers.ValidationError({"item_id": "Give a catalog item's item_id, or a name."})
            if "unit_price_cents" not in data:
                raise serializers.ValidationError({"unit_price_cents": "A line without item_id needs its price."})
        return data


class PurchaseIn(serializers.Serializer):
    transaction_id = serializers.CharField(max_length=100, help_text="The POS's id for the sale; repeats are safe.")
    patient = PatientRefIn()
    purchased_at = serializers.DateTimeField(
        required=False, help_text="When the sale happened (default: now); without an offset, practice time."
    )
    lines = PurchaseLineIn(many=True, allow_empty=False, max_length=MAX_LINES)
    payment_method = serializers.CharField(required=False, max_length=30, allow_blank=True, default="")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A POS that sends local times without an offset means the practice's clock, not UTC.
        # (The schema generator may build this outside a practice, where there is no time zone.)
        if time_zone := getattr(getattr(connection, "tenant", None), "time_zone", None):
            self.fields["purchased_at"].timezone = ZoneInfo(time_zone)

    def validate_purchased_at(self, value: datetime) -> datetime:
        if value > timezone.now() + MAX_CLOCK_SKEW:
            raise serializers.ValidationError("A purchase can't be in the future; check the POS's clock.")
        return value

    def validate_lines(self, lines: list[dict]) -> list[services.LineIn]:
        """The lines as the points engine takes them, with catalog items found by their POS id (one query)."""
        wanted = {line["item_id"] for line in lines if "item_id" in line}
        items = {item.external_id: item for item in CatalogItem.objects.filter(external_id__in=wanted)}
        errors = {}
        result = []
        for index, line in enumerate(lines):
            item = items.get(line["item_id"]) if "item_id" in line else None
            if "item_id" in line and item is None:
                errors[index] = {"item_id": [f"No catalog item has the POS id “{line['item_id']}”."]}
                continue
            price = line.get("unit_price_cents", item.price_cents if item else 0)
            result.append(
                services.LineIn(
                    quantity=line["quantity"],
                    unit_price_cents=price,
                    item=item,
                    name=line.get("name", "").strip(),
                    category=line["category"].strip(),
                )
            )
        if errors:
            raise serializers.ValidationError(errors)
        if sum(line.quantity * line.unit_price_cents for line in result) > MAX_PURCHASE_CENTS:
            raise serializers.ValidationError(f"A purchase can't total more than ${MAX_PURCHASE_CENTS // 100:,}.")
        return result


class RefundLineIn(serializers.Serializer):
    line_id = serializers.IntegerField(min_value=1, max_value=BIGINT_MAX)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)


class RefundIn(serializers.Serializer):
    refund_id = serializers.CharField(
        required=False, max_length=100, help_text="The POS's id for the refund; repeats are safe."
    )
    lines = RefundLineIn(
        many=True, required=False, allow_empty=False, max_length=MAX_LINES, help_text="Leave out to refund it all."
    )
    reason = serializers.CharField(required=False, max_length=300, allow_blank=True, default="")


def _validated(serializer_class: type[serializers.Serializer], data) -> dict:
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        raise ValidationError(_flat_errors(serializer.errors))
    return serializer.validated_data


def _flat_errors(detail, path: str = "") -> dict[str, list[str]]:
    """Nested serializer errors as {"lines[1].quantity": [...]}: one flat `fields` object in the error body."""
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            if isinstance(key, int):  # a list's items (DRF's LIST_SERIALIZER_ERRORS_AS_DICT)
                name = f"{path}[{key}]"
            elif key == api_settings.NON_FIELD_ERRORS_KEY and path:
                name = path
            else:
                name = f"{path}.{key}" if path else key
            for field, messages in _flat_errors(value, name).items():
                flat.setdefault(field, []).extend(messages)
        return flat
    if isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        flat = {}
        for index, item in enumerate(detail):
            flat.update(_flat_errors(item, f"{path}[{index}]"))
        return flat
    messages = detail if isinstance(detail, list) else [detail]
    return {path or api_settings.NON_FIELD_ERRORS_KEY: [str(message) for message in messages]}


# ---------------------------------------------------------------- output


class PurchaseLineOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price_cents = serializers.IntegerField()
    total_cents = serializers.IntegerField()
    refunded_quantity = serializers.IntegerField()


LINE_FIELDS = tuple(PurchaseLineOut().fields)


class PurchaseOut(serializers.Serializer):
    id = serializers.IntegerField()
    transaction_id = serializers.CharField(source="external_id", allow_null=True)
    patient_id = serializers.IntegerField()
    total_cents = serializers.IntegerField()
    points = serializers.IntegerField()
    purchased_at = serializers.DateTimeField()
    lines = PurchaseLineOut(many=True, source="line_rows")
    balance = serializers.IntegerField(help_text="The patient's points balance now.")


class RefundOut(serializers.Serializer):
    id = serializers.IntegerField()
    purchase_id = serializers.IntegerField()
    amount_cents = serializers.IntegerField()
    points = serializers.IntegerField(help_text="Points the refunded lines had earned.")
    points_taken = serializers.IntegerField(help_text="Points taken back (never more than the balance).")
    shortfall_points = serializers.IntegerField(help_text="Already spent, so not taken back.")
    balance = serializers.IntegerField(help_text="The patient's points balance now.")


class PatientOut(serializers.Serializer):
    id = serializers.IntegerField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    phone = serializers.CharField()
    status = serializers.CharField()
    balance = serializers.IntegerField()
    tier = serializers.CharField(allow_null=True, help_text="The tier's name, or null.")


ErrorOut = inline_serializer(
    "Error",
    {
        "error": inline_serializer(
            "ErrorDetail",
            {"code": serializers.CharField(), "message": serializers.CharField(), "fields": serializers.DictField()},
        )
    },
)


def _balance(patient_id: int) -> int:
    return PointsAccount.objects.filter(patient_id=patient_id).values_list("balance", flat=True).first() or 0


def purchase_body(purchase: Purchase) -> dict:
    """The purchase, its lines and the patient's balance now, read in one query (this is on every POS sale)."""
    balance = PointsAccount.objects.filter(patient_id=purchase.patient_id).values("balance")[:1]
    lines = list(purchase.lines.values(*LINE_FIELDS, balance=Subquery(balance)))
    purchase.balance = lines[0]["balance"] if lines else _balance(purchase.patient_id)
    purchase.line_rows = lines
    return PurchaseOut(purchase).data


def refund_body(refund: Refund) -> dict:
    refund.balance = _balance(refund.purchase.patient_id)
    return RefundOut(refund).data


# ---------------------------------------------------------------- endpoints


class PosView(APIView):
    """Authenticated by the practice's API key only (no session: a browser's cookies open nothing here)."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasPracticeApiKey]
    # JSON only: the nested lines have no form encoding, and the signature covers exactly the JSON sent.
    parser_classes = [JSONParser]

    def permission_denied(self, request, message=None, code=None):
        if request.successful_authenticator is None:
            # DRF's own wording ("credentials were not provided") doesn't say what to send.
            raise NotAuthenticated("Send this practice's API key: Authorization: Bearer <key>, or X-Api-Key: <key>.")
        super().permission_denied(request, message=message, code=code)


ERRORS = {400: ErrorOut, 401: ErrorOut, 404: ErrorOut, 409: ErrorOut}


class PurchaseCreate(PosView):
    @extend_schema(
        operation_id="pos_purchase_create",
        summary="Record a purchase",
        description="Idempotent on transaction_id: a repeat answers 200 with the purchase first recorded.",
        request=PurchaseIn,
        responses={201: PurchaseOut, 200: OpenApiResponse(PurchaseOut, description="A repeat"), **ERRORS},
    )
    def post(self, request):
        purchase, created = record_pos_purchase(**_validated(PurchaseIn, request.data))
        return Response(purchase_body(purchase), status=201 if created else 200)


class PurchaseDetail(PosView):
    @extend_schema(operation_id="pos_purchase_get", summary="A purchase", responses={200: PurchaseOut, **ERRORS})
    def get(self, request, purchase_id: int):
        purchase = Purchase.objects.filter(pk=purchase_id).first()
        if purchase is None:
            raise PurchaseNotFound(f"No purchase with the id {purchase_id}.")
        return Response(purchase_body(purchase))


class RefundCreate(PosView):
    @extend_schema(
        operation_id="pos_refund_create",
        summary="Refund a purchase, whole or some lines",
        description="Takes back the refunded lines' points. Idempotent on refund_id (a repeat answers 200).",
        request=RefundIn,
        responses={201: RefundOut, 200: OpenApiResponse(RefundOut, description="A repeat"), **ERRORS},
    )
    def post(self, request, purchase_id: int):
        refund, created = refund_pos_purchase(purchase_id=purchase_id, **_validated(RefundIn, request.data))
        return Response(refund_body(refund), status=201 if created else 200)


class PatientLookup(PosView):
    @extend_schema(
        operation_id="pos_patient_lookup",
        summary="Find a patient by phone number",
        parameters=[
            OpenApiParameter("phone", str, required=True, description="Any format; read in the practice's country.")
        ],
        responses={200: PatientOut, **ERRORS},
    )
    def get(self, request):
        return Response(PatientOut(pos_patient(phone=request.query_params.get("phone", ""))).data)
