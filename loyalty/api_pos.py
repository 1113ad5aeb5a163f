"""The POS API: the practice's point-of-sale system records purchases and refunds and looks patients up.

Every call carries one of the practice's API keys (the owner creates them at /staff/settings/api-keys/),
as `Authorization: Bearer <key>` or `X-Api-Key: <key>`, optionally signed with the key's signing secret
(`X-Timestamp` and `X-Signature: v1=...` over the method, path, time and body; see practices.api_keys).
Keys live in the practice's schema, so a key opens its own practice only.

A patient is named by exactly one of `{"phone": "..."}`, `{"id": 12}` (our patient id, as returned
by `GET /pos/patients`) or `{"member_code": "..."}`: the practice's own id for the patient
(`Patient.external_id`, as set by a patient import). Errors use the shared body
`{"error": {"code", "message", "fields"}}`; field names of nested input are paths (`lines[1].item_id`).
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection
from django.http import HttpResponse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated, NotFound, ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from config.api_errors import exception_handler
from patients.errors import InvalidPhone
from patients.phones import normalize_phone
from practices.api_keys import ApiKeyAuthentication, HasPracticeApiKey
from practices.errors import DomainError
from practices.formatting import format_money
from practices.throttles import PosApiThrottle

from . import services
from .errors import PurchaseNotFound
from .models import PointsAccount, Purchase, Refund
from .pos import pos_patient, record_pos_purchase, refund_pos_purchase
from .selectors import catalog_items_by_pos_id, purchase_lines_and_balance

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
        _in_practice_time(self.fields["purchased_at"])

    def validate_purchased_at(self, value: datetime) -> datetime:
        return _checked_purchase_time(value)

    def validate_lines(self, lines: list[dict]) -> list[services.LineIn]:
        return _lines_in(lines)


def _in_practice_time(field: serializers.DateTimeField) -> serializers.DateTimeField:
    # A POS that sends local times without an offset means the practice's clock, not UTC.
    # (The schema generator may build this outside a practice, where there is no time zone.)
    if time_zone := getattr(getattr(connection, "tenant", None), "time_zone", None):
        field.timezone = ZoneInfo(time_zone)
    return field


def _checked_purchase_time(value: datetime) -> datetime:
    if value > timezone.now() + MAX_CLOCK_SKEW:
        raise serializers.ValidationError("A purchase can't be in the future; check the POS's clock.")
    return value


def _lines_in(lines: list[dict]) -> list[services.LineIn]:
    """The lines as the points engine takes them, with catalog items found by their POS id (one query)."""
    items = catalog_items_by_pos_id({line["item_id"] for line in lines if "item_id" in line})
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
        raise serializers.ValidationError(
            f"A purchase can't total more than {format_money(MAX_PURCHASE_CENTS, whole=True)}."
        )
    return result


# ---------------------------------------------------------------- the usual purchase, read directly
#
# Every POS sale comes through PurchaseIn's rules, and building and running a DRF serializer costs more
# than recording the sale does. A body that is plainly well formed (strings where strings go, integers
# in range, known item ids...) is read here instead, to the same result; anything else (an error, or a
# leniency of the serializer's such as "2" for 2) returns None and goes through PurchaseIn, so every
# error message stays the serializer's. tests/loyalty/test_pos_input.py holds both to the same answers.


def _plain_purchase(data) -> dict | None:
    if not isinstance(data, dict):
        return None
    transaction_id = _plain_text(data.get("transaction_id"), max_length=100)
    patient = _plain_patient(data.get("patient"))
    lines = data.get("lines")
    if transaction_id is None or patient is None or not isinstance(lines, list) or not 0 < len(lines) <= MAX_LINES:
        return None
    plain_lines = [_plain_line(line) for line in lines]
    if None in plain_lines:
        return None
    result = {"transaction_id": transaction_id, "patient": patient, "payment_method": ""}
    if "payment_method" in data:
        result["payment_method"] = _plain_text(data["payment_method"], max_length=30, allow_blank=True)
        if result["payment_method"] is None:
            return None
    if "purchased_at" in data:
        field = _in_practice_time(copy.deepcopy(PurchaseIn._declared_fields["purchased_at"]))
        try:
            result["purchased_at"] = _checked_purchase_time(field.run_validation(data["purchased_at"]))
        except serializers.ValidationError:
            return None
    try:
        result["lines"] = _lines_in(plain_lines)
    except serializers.ValidationError:
        return None
    return result


def _plain_patient(data) -> dict | None:
    if not isinstance(data, dict):
        return None
    named = [key for key in ("phone", "id", "member_code") if key in data]
    if len(named) != 1:
        return None
    key = named[0]
    if key == "id":
        return {"id": data["id"]} if _plain_int(data["id"], 1, BIGINT_MAX) else None
    value = _plain_text(data[key], max_length=32 if key == "phone" else 64)
    if value is None:
        return None
    if key == "member_code":
        return {"member_code": value}
    try:
        return {"phone": normalize_phone(value)}
    except InvalidPhone:
        return None


def _plain_line(data) -> dict | None:
    if not isinstance(data, dict):
        return None
    line = {"category": "", "quantity": 1}
    for key, max_length, allow_blank in (("item_id", 64, False), ("name", 120, False), ("category", 60, True)):
        if key in data:
            line[key] = _plain_text(data[key], max_length=max_length, allow_blank=allow_blank)
            if line[key] is None:
                return None
    for key, low, high in (("quantity", 1, MAX_QUANTITY), ("unit_price_cents", 0, MAX_PURCHASE_CENTS)):
        if key in data:
            if not _plain_int(data[key], low, high):
                return None
            line[key] = data[key]
    if "item_id" not in line and ("name" not in line or "unit_price_cents" not in line):
        return None
    return line


def _plain_text(value, *, max_length: int, allow_blank: bool = False) -> str | None:
    """A string as a DRF CharField reads it (whitespace trimmed), or None where the field might object."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if (not value and not allow_blank) or len(value) > max_length or "\x00" in value:
        return None
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:  # a lone surrogate, which the field refuses
            return None
    return value


def _plain_int(value, low: int, high: int) -> bool:
    return type(value) is int and low <= value <= high


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


# PurchaseOut's datetime field, on its own: the body of a purchase is built directly (see purchase_body).
_DATETIME_OUT = serializers.DateTimeField()


def purchase_body(purchase: Purchase) -> dict:
    """The purchase, its lines and the patient's balance now, as PurchaseOut describes them.

    On every POS sale, so built directly rather than by the serializer (tests/loyalty/test_pos_input.py
    checks that both give the same), from what record_purchase wrote when it has just recorded it, or
    else read in one query.
    """
    if (written := getattr(purchase, "lines_written", None)) is not None:
        lines = [{name: getattr(line, name) for name in LINE_FIELDS} for line in written]
        balance = purchase.balance_after
    else:
        lines, balance = purchase_lines_and_balance(purchase=purchase, fields=LINE_FIELDS)
    return {
        "id": purchase.pk,
        "transaction_id": purchase.external_id,
        "patient_id": purchase.patient_id,
        "total_cents": purchase.total_cents,
        "points": purchase.points,
        "purchased_at": _DATETIME_OUT.to_representation(purchase.purchased_at),
        "lines": lines,
        "balance": balance,
    }


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

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # No POS path parameter can hold a NUL byte, and PostgreSQL refuses one in any query: not found.
        if any(isinstance(value, str) and "\x00" in value for value in kwargs.values()):
            raise NotFound("Nothing here: the address holds a character no id or code can contain.")

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
        data = _plain_purchase(request.data) or _validated(PurchaseIn, request.data)
        purchase, created = record_pos_purchase(**data)
        return Response(purchase_body(purchase), status=201 if created else 200)

    def dispatch(self, request, *args, **kwargs):
        # The usual sale (JSON answered in JSON, a valid key, input PurchaseIn takes as it is) is answered
        # without DRF's request cycle, which costs as much as the rest of the request; anything else
        # (no key or a refused one, another content type, an error in the input...) goes through DRF as
        # before, so every error answer stays DRF's. Both record the sale with the same calls.
        # The request limit of the key (practices.throttles.PosApiThrottle, DRF's for this view too) is checked
        # there as well; a request over it goes through DRF, which answers the 429.
        response = _usual_purchase(request) if request.method == "POST" else None
        return response if response is not None else super().dispatch(request, *args, **kwargs)


def _usual_purchase(request) -> HttpResponse | None:
    """The response to a plainly well-formed, authenticated sale, or None to let DRF handle the request."""
    accept = request.headers.get("Accept", "*/*")
    charset = request.content_params.get("charset", "utf-8").lower()
    if request.content_type != "application/json" or charset not in ("utf-8", "utf8") or request.GET:
        return None
    if accept not in ("*/*", "application/json"):
        return None
    try:
        authenticated = ApiKeyAuthentication().authenticate(request)
        if authenticated is None:
            return None
        data = _plain_purchase(json.loads(request.body, parse_constant=_refuse_constant))
    except (AuthenticationFailed, ValueError):
        return None
    # Counted once: a request handed to DRF from here on is over the limit (DRF answers its 429).
    if data is None or not PosApiThrottle().allows_key(authenticated[1]):
        return None
    try:
        purchase, created = record_pos_purchase(**data)
    except DomainError as error:
        # The shared error handler's answer, rendered as DRF renders it.
        response = exception_handler(error, {})
        return _json_response(response.data, response.status_code)
    return _json_response(purchase_body(purchase), 201 if created else 200)


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")  # as DRF's JSONParser refuses NaN and Infinity


def _json_response(data: dict, status: int) -> HttpResponse:
    response = HttpResponse(JSONRenderer().render(data), status=status, content_type="application/json")
    # The headers DRF adds to this view's answers.
    response["Allow"] = "POST, OPTIONS"
    patch_vary_headers(response, ["Accept"])
    return response


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
        description="Takes back the refunded lines' points. Idempotent on refund_id (a repeat answers 200). "
        "Without refund_id, a refund identical to one recorded for the purchase in the last minutes (same lines "
        "and quantities, or the whole purchase) is refused with 409 duplicate_refund.",
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
