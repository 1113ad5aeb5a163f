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

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotAuthenticated, NotFound, ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from patients.errors import InvalidPhone
from patients.phones import normalize_phone
from practices.api_fields import UtcDateTimeField
from practices.api_keys import ApiKeyAuthentication, HasPracticeApiKey
from practices.errors import DomainError, error_body
from practices.formatting import format_money

from . import pos_selectors, services
from .errors import PurchaseNotFound
from .models import CatalogItem, Purchase, Refund
from .pos import pos_patient, record_pos_purchase, record_pos_purchases, refund_pos_purchase, refund_pos_purchases
from .selectors import catalog_items_by_pos_id

# A purchase dated this far ahead is a clock problem at the POS, not a sale.
MAX_CLOCK_SKEW = timedelta(minutes=5)
MAX_QUANTITY = 10_000
# $1,000,000: far above any sale, and keeps totals and points inside their integer columns.
MAX_PURCHASE_CENTS = 100_000_000
MAX_LINES = 200
BIGINT_MAX = 2**63 - 1
# Sales (or refunds) per batch request.
MAX_BATCH = 500


# ---------------------------------------------------------------- input


class TextField(serializers.CharField):
    """A string field that takes strings only: an id sent as a number (`"transaction_id": 12`) is refused rather than
    turned into "12", so the POS learns its mistake before two systems disagree on the id's type."""

    default_error_messages = {"invalid": "Send a string (in quotes)."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class PatientRefIn(serializers.Serializer):
    phone = TextField(required=False, max_length=32)
    id = serializers.IntegerField(required=False, min_value=1, max_value=BIGINT_MAX)
    member_code = TextField(required=False, max_length=64)

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
    item_id = TextField(required=False, max_length=64, help_text="The catalog item's POS id.")
    name = TextField(required=False, max_length=120, help_text="For a line without item_id.")
    category = TextField(required=False, max_length=60, allow_blank=True, default="")
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
    """One sale. Its catalog items are found after validation, for one sale or a batch at once (sales_in)."""

    transaction_id = TextField(max_length=100, help_text="The POS's id for the sale; repeats are safe.")
    patient = PatientRefIn()
    purchased_at = serializers.DateTimeField(
        required=False, help_text="When the sale happened (default: now); without an offset, practice time."
    )
    lines = PurchaseLineIn(many=True, allow_empty=False, max_length=MAX_LINES)
    payment_method = TextField(required=False, max_length=30, allow_blank=True, default="")

    def validate_purchased_at(self, value: datetime) -> datetime:
        if value > timezone.now() + MAX_CLOCK_SKEW:
            raise serializers.ValidationError("A purchase can't be in the future; check the POS's clock.")
        return value


class EachItem(serializers.ListSerializer):
    """A list validated item by item, for batches: the valid items come back as their data and each invalid one as
    an Invalid holding its field errors, so a batch records what it can and answers for the rest."""

    def to_internal_value(self, data):
        if not isinstance(data, list):
            raise ValidationError({api_settings.NON_FIELD_ERRORS_KEY: ["Send a list."]})
        if not data:
            raise ValidationError({api_settings.NON_FIELD_ERRORS_KEY: ["Send at least one item."]})
        if len(data) > self.max_length:
            raise ValidationError(
                {api_settings.NON_FIELD_ERRORS_KEY: [f"Send at most {self.max_length} items per request."]}
            )
        validated = []
        for item in data:
            try:
                validated.append(self.child.run_validation(item))
            except ValidationError as error:
                validated.append(Invalid(_flat_errors(error.detail)))
        return validated


@dataclass(frozen=True)
class Invalid:
    """An item of a batch that failed validation, with its errors by field path."""

    fields: dict[str, list[str]]


class PurchaseBatchIn(serializers.Serializer):
    purchases = EachItem(child=PurchaseIn(), max_length=MAX_BATCH, help_text=f"1 to {MAX_BATCH} sales.")


def sales_in(purchases: list[dict | Invalid]) -> list[dict | Invalid]:
    """Validated sales with their lines as the points engine takes them: catalog items found by their POS id,
    for all the sales in one query. A sale naming an unknown item becomes Invalid (`lines[1].item_id`)."""
    wanted = {
        line["item_id"]
        for sale in purchases
        if not isinstance(sale, Invalid)
        for line in sale["lines"]
        if "item_id" in line
    }
    items = catalog_items_by_pos_id(wanted)
    result = []
    for sale in purchases:
        if isinstance(sale, Invalid):
            result.append(sale)
            continue
        try:
            result.append({**sale, "lines": _lines_in(sale["lines"], items)})
        except ValidationError as error:
            result.append(Invalid(_flat_errors({"lines": error.detail})))
    return result


def _lines_in(lines: list[dict], items: dict[str, CatalogItem]) -> list[services.LineIn]:
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
        raise ValidationError(errors)
    if sum(line.quantity * line.unit_price_cents for line in result) > MAX_PURCHASE_CENTS:
        raise ValidationError([f"A purchase can't total more than {format_money(MAX_PURCHASE_CENTS, whole=True)}."])
    return result


class RefundLineIn(serializers.Serializer):
    line_id = serializers.IntegerField(min_value=1, max_value=BIGINT_MAX)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)


class RefundIn(serializers.Serializer):
    refund_id = TextField(required=False, max_length=100, help_text="The POS's id for the refund; repeats are safe.")
    lines = RefundLineIn(
        many=True, required=False, allow_empty=False, max_length=MAX_LINES, help_text="Leave out to refund it all."
    )
    reason = TextField(required=False, max_length=300, allow_blank=True, default="")


class RefundBatchItemIn(RefundIn):
    refund_id = TextField(max_length=100, help_text="The POS's id for the refund; repeats are safe.")
    purchase_id = serializers.IntegerField(required=False, min_value=1, max_value=BIGINT_MAX)
    transaction_id = TextField(required=False, max_length=100, help_text="The purchase's transaction_id.")

    def validate(self, data: dict) -> dict:
        if ("purchase_id" in data) == ("transaction_id" in data):
            raise serializers.ValidationError("Name the purchase by exactly one of purchase_id or transaction_id.")
        return data


class RefundBatchIn(serializers.Serializer):
    refunds = EachItem(child=RefundBatchItemIn(), max_length=MAX_BATCH, help_text=f"1 to {MAX_BATCH} refunds.")


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


class PurchaseSummaryOut(serializers.Serializer):
    """A purchase without its lines: what a batch answers for each sale."""

    id = serializers.IntegerField()
    transaction_id = serializers.CharField(source="external_id", allow_null=True)
    patient_id = serializers.IntegerField()
    total_cents = serializers.IntegerField()
    points = serializers.IntegerField()
    purchased_at = UtcDateTimeField()
    balance = serializers.IntegerField(help_text="The patient's points balance now.")


class PurchaseOut(PurchaseSummaryOut):
    lines = PurchaseLineOut(many=True, source="line_rows")


class RefundOut(serializers.Serializer):
    id = serializers.IntegerField()
    refund_id = serializers.CharField(source="external_id", allow_null=True, help_text="The POS's id for the refund.")
    purchase_id = serializers.IntegerField()
    created_at = UtcDateTimeField(help_text="When it was recorded.")
    amount_cents = serializers.IntegerField()
    points = serializers.IntegerField(help_text="Points the refunded lines had earned.")
    points_taken = serializers.IntegerField(help_text="Points taken back (never more than the balance).")
    shortfall_points = serializers.IntegerField(help_text="Already spent, so not taken back.")
    balance = serializers.IntegerField(help_text="The patient's points balance now.")


def _batch_out(name: str, record: serializers.Serializer) -> serializers.Serializer:
    return inline_serializer(
        f"{name}BatchOut",
        {
            "results": serializers.ListField(
                child=inline_serializer(
                    f"{name}BatchResult",
                    {
                        "status": serializers.ChoiceField(choices=["created", "already_recorded", "error"]),
                        name.lower(): record,
                        "error": ErrorDetailOut(allow_null=True),
                    },
                )
            )
        },
    )


class PatientOut(serializers.Serializer):
    id = serializers.IntegerField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    phone = serializers.CharField()
    status = serializers.CharField()
    balance = serializers.IntegerField()
    tier = serializers.CharField(allow_null=True, help_text="The tier's name, or null.")


class ErrorDetailOut(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))

    class Meta:
        ref_name = "ErrorDetail"


ErrorOut = inline_serializer("Error", {"error": ErrorDetailOut()})
PurchaseBatchOut = _batch_out("Purchase", PurchaseSummaryOut(allow_null=True))
RefundBatchOut = _batch_out("Refund", RefundOut(allow_null=True))


def purchase_body(purchase: Purchase) -> dict:
    """The purchase, its lines and the patient's balance now (PurchaseOut): from what was just written for a new
    purchase, else read."""
    if (written := getattr(purchase, "lines_written", None)) is not None:
        purchase.line_rows, purchase.balance = written, purchase.balance_after
    else:
        purchase.line_rows = list(purchase.lines.order_by("pk"))
        purchase.balance = pos_selectors.balances([purchase.patient_id])[purchase.patient_id]
    return PurchaseOut(purchase).data


def refund_body(refund: Refund) -> dict:
    return _refund_bodies([refund])[0]


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
        description="Idempotent on transaction_id: a repeat answers 200 with the purchase first recorded. The same "
        "transaction_id sent for another patient, other lines or another purchased_at answers 409 "
        "idempotency_conflict.",
        request=PurchaseIn,
        responses={201: PurchaseOut, 200: OpenApiResponse(PurchaseOut, description="A repeat"), **ERRORS},
    )
    def post(self, request):
        serializer = PurchaseIn(data=request.data)
        if not serializer.is_valid():
            raise ValidationError(_flat_errors(serializer.errors))
        (sale,) = sales_in([serializer.validated_data])
        if isinstance(sale, Invalid):
            raise ValidationError(sale.fields)
        purchase, created = record_pos_purchase(**sale)
        return Response(purchase_body(purchase), status=201 if created else 200)


class PurchaseBatchCreate(PosView):
    @extend_schema(
        operation_id="pos_purchase_batch",
        summary="Record up to 500 purchases at once",
        description="For a POS catching up after an outage, or sending the day's sales. Each sale is what "
        "`POST /pos/purchases` takes, idempotent on its transaction_id. The answer has one result per sale, in the "
        "order sent: `created`, `already_recorded` (the purchase recorded before under that transaction_id) or "
        "`error` (the error body's `error` object, field paths within the sale). Valid sales are recorded even when "
        "others fail; send the failed ones again once corrected.",
        request=PurchaseBatchIn,
        responses={200: PurchaseBatchOut, **ERRORS},
    )
    def post(self, request):
        serializer = PurchaseBatchIn(data=request.data)
        if not serializer.is_valid():
            raise ValidationError(_flat_errors(serializer.errors))
        outcomes = _for_valid(sales_in(serializer.validated_data["purchases"]), record_pos_purchases)
        return Response({"results": _batch_results(outcomes, "purchase", _purchase_summaries)})


def _for_valid(items: list, record) -> list:
    """`record` applied to the valid items of a batch; the outcomes with the invalid items in their places."""
    recorded = iter(record([item for item in items if not isinstance(item, Invalid)]))
    return [item if isinstance(item, Invalid) else next(recorded) for item in items]


def _batch_results(outcomes: list, name: str, bodies) -> list[dict]:
    """A batch's answer: what became of each item, with its record (`bodies` renders them all at once) or error."""
    recorded = [outcome[0] for outcome in outcomes if isinstance(outcome, tuple)]
    rendered = iter(bodies(recorded))
    results = []
    for outcome in outcomes:
        if isinstance(outcome, Invalid):
            error = error_body("invalid", "Check the fields of this item.", outcome.fields)["error"]
            results.append({"status": "error", name: None, "error": error})
        elif isinstance(outcome, DomainError):
            fields = {outcome.field: [outcome.message]} if outcome.field else {}
            error = error_body(outcome.code, outcome.message, fields)["error"]
            results.append({"status": "error", name: None, "error": error})
        else:
            status = "created" if outcome[1] else "already_recorded"
            results.append({"status": status, name: next(rendered), "error": None})
    return results


def _purchase_summaries(purchases: list[Purchase]) -> list[dict]:
    """PurchaseSummaryOut of each, with the balance just written for new ones and read (one query) for repeats."""
    balances = pos_selectors.balances(p.patient_id for p in purchases if not hasattr(p, "balance_after"))
    for purchase in purchases:
        purchase.balance = getattr(purchase, "balance_after", None)
        if purchase.balance is None:
            purchase.balance = balances.get(purchase.patient_id, 0)
    return PurchaseSummaryOut(purchases, many=True).data


def _refund_bodies(refunds: list[Refund]) -> list[dict]:
    """RefundOut of each, with its patient's balance now: two queries whatever their number."""
    patients = pos_selectors.purchase_patients(refund.purchase_id for refund in refunds)
    balances = pos_selectors.balances(patients.values())
    for refund in refunds:
        refund.balance = balances.get(patients.get(refund.purchase_id), 0)
    return RefundOut(refunds, many=True).data


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


class RefundBatchCreate(PosView):
    @extend_schema(
        operation_id="pos_refund_batch",
        summary="Record up to 500 refunds at once",
        description="Each refund names its purchase by `purchase_id` (ours) or `transaction_id` (the POS's) and must "
        "carry a refund_id, on which it is idempotent. One result per refund, in order: `created`, "
        "`already_recorded` or `error`; valid refunds are recorded even when others fail.",
        request=RefundBatchIn,
        responses={200: RefundBatchOut, **ERRORS},
    )
    def post(self, request):
        serializer = RefundBatchIn(data=request.data)
        if not serializer.is_valid():
            raise ValidationError(_flat_errors(serializer.errors))
        outcomes = _for_valid(serializer.validated_data["refunds"], refund_pos_purchases)
        return Response({"results": _batch_results(outcomes, "refund", _refund_bodies)})


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
