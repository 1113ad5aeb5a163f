"""Staff pages used at the desk: checkout with its points quote, receipts and refunds, awarding actions
(to one patient from their page or to many at once), and the points panel on the patient page."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from patients.models import Patient
from patients.views_staff import search_patients
from practices.errors import DomainError
from practices.formatting import format_number, format_phone
from practices.models import StaffMember
from practices.roles import staff_member_of, staff_required

from . import receipts, staff_services
from .forms import (
    MAX_CHECKOUT_LINES,
    AdjustForm,
    AwardForm,
    BulkAwardForm,
    CheckoutForm,
    CheckoutLineForm,
    CheckoutLineFormSet,
    RefundForm,
    item_label,
    money,
    new_desk_token,
)
from .models import CatalogItem, EarningAction, Purchase
from .selectors import patient_ledger, points_summary
from .services import quote_purchase
from .staff_selectors import catalog_items, purchase_receipt

PATIENTS_PER_PAGE = 25
ITEM_SUGGESTIONS = 8
PANEL_ENTRIES = 10
NAMES_IN_REPORT = 20
LINES_PREFIX = "lines"

Role = StaffMember.Role


# ---------------------------------------------------------------- the patient page panel


def patient_panel_context(request, patient: Patient) -> dict:
    """What the points panel on the staff patient page shows; the adjust form only to managers and owners."""
    member = staff_member_of(request.user)
    can_adjust = bool(member and member.has_role(Role.MANAGER))
    summary = points_summary(patient=patient)
    award_form = AwardForm(auto_id="id_award_%s")
    return {
        "points": summary,
        "points_value": money(summary.value_cents),
        "entries": list(patient_ledger(patient=patient)[:PANEL_ENTRIES]),
        "award_form": award_form,
        "has_actions": award_form.fields["action"].queryset.exists(),
        "adjust_form": AdjustForm(auto_id="id_adjust_%s") if can_adjust else None,
    }


@staff_required
@require_POST
def patient_award(request, patient_id: int):
    patient = get_object_or_404(Patient.objects.select_related("user"), pk=patient_id)
    form = AwardForm(request.POST)
    if form.is_valid():
        action = form.cleaned_data["action"]
        try:
            staff_services.award_action_by_staff(
                patient=patient, action=action, actor=request.user, note=form.cleaned_data["note"]
            )
        except DomainError as error:
            form.add_error("action", error.message)
        else:
            messages.success(request, f"{patient} got {format_number(action.points)} points for “{action.name}”.")
            return redirect("patients:staff_patient_detail", patient_id=patient.pk)
    return render(
        request,
        "loyalty/staff/patient_form.html",
        {
            "patient": patient,
            "form": form,
            "title": f"Award an action to {patient}",
            "action_url": reverse("loyalty:patient_award", args=[patient.pk]),
            "submit_label": "Award",
        },
    )


# ---------------------------------------------------------------- awarding to many


@staff_required
def action_award(request, action_id: int):
    # Birthday and cross-booking are given by the system only, so they have no award page.
    action = get_object_or_404(EarningAction.objects.exclude(kind__in=EarningAction.AUTOMATIC_KINDS), pk=action_id)
    query = request.GET.get("q", "").strip()
    form = BulkAwardForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        result = staff_services.award_action_to_many(
            action=action,
            patients=list(form.cleaned_data["patients"]),
            actor=request.user,
            note=form.cleaned_data["note"],
        )
        messages.success(request, _bulk_report(result))
        url = reverse("loyalty:action_award", args=[action.pk])
        return redirect(f"{url}?{request.GET.urlencode()}" if request.GET else url)
    page = Paginator(search_patients(query), PATIENTS_PER_PAGE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "loyalty/staff/action_award.html",
        {"action": action, "form": form, "query": query, "page": page, "page_query": params.urlencode()},
    )


def _names(patients: list[Patient]) -> str:
    names = [str(patient) for patient in patients[:NAMES_IN_REPORT]]
    if len(patients) > NAMES_IN_REPORT:
        names.append(f"and {len(patients) - NAMES_IN_REPORT} more")
    return ", ".join(names)


def _bulk_report(result: staff_services.BulkAwardResult) -> str:
    """ "Awarded to 12, skipped 3 (limit reached): Ada Lovelace, …" """
    text = f"Awarded to {len(result.awarded)}"
    by_reason: dict[str, list[Patient]] = {}
    for patient, reason in result.skipped:
        by_reason.setdefault(reason, []).append(patient)
    for reason, patients in by_reason.items():
        text += f", skipped {len(patients)} ({reason}): {_names(patients)}"
    return text + "."


# ---------------------------------------------------------------- checkout


@staff_required
def checkout(request):
    """Find the patient (as you type), then their checkout: one line to start, more on demand, each item found
    by typing, the points quoted as the lines change, one confirmation."""
    if request.method == "POST":
        return _checkout_submit(request)
    patient_id = _number(request.GET.get("patient", ""))
    if patient_id is None:
        query = request.GET.get("q", "").strip()
        page = Paginator(search_patients(query), PATIENTS_PER_PAGE).get_page(request.GET.get("page")) if query else None
        context = {"query": query, "page": page, "page_query": urlencode({"q": query})}
        if request.headers.get("HX-Request"):  # typing in the search box: the results alone
            return render(request, "loyalty/staff/_checkout_patients.html", context)
        return render(request, "loyalty/staff/checkout.html", context)
    patient = get_object_or_404(Patient.objects.select_related("user"), pk=patient_id)
    form = CheckoutForm(initial={"patient": patient.pk, "token": new_desk_token(), "payment_method": "card"})
    lines = CheckoutLineFormSet(prefix=LINES_PREFIX)
    return _render_checkout(request, patient, form, lines)


def _bound_checkout(data) -> tuple[CheckoutForm, CheckoutLineFormSet]:
    return CheckoutForm(data), CheckoutLineFormSet(data, prefix=LINES_PREFIX)


def _number(text: str) -> int | None:
    """A whole number written in plain digits, or None ("²" is a digit to str.isdigit(), but not to int())."""
    return int(text) if text.isascii() and text.isdigit() else None


def _line_count(data) -> int:
    return _number(data.get(f"{LINES_PREFIX}-TOTAL_FORMS", "0")) or 0


def _checkout_submit(request):
    data = request.POST.copy()
    step = data.get("step", "confirm")
    if step == "add_line":
        # Without JavaScript, "Add a line" posts the form back with one more empty row.
        data[f"{LINES_PREFIX}-TOTAL_FORMS"] = str(min(_line_count(data) + 1, MAX_CHECKOUT_LINES))
    form, lines = _bound_checkout(data)
    form_ok = form.is_valid()
    patient = form.cleaned_data.get("patient")
    if patient is None:
        messages.error(request, " ".join(form.errors.get("patient", ["Choose the patient again."])))
        return redirect("loyalty:checkout")
    lines_ok = lines.is_valid()
    if step != "confirm" or not (form_ok and lines_ok):
        quote = _quote_for_display(patient, lines) if lines_ok else None
        return _render_checkout(request, patient, form, lines, quote=quote)
    try:
        done = receipts.check_out(
            patient=patient,
            lines=lines.lines(),
            token=form.cleaned_data["token"],
            actor=request.user,
            payment_method=form.cleaned_data["payment_method"],
            text_receipt=form.cleaned_data["text_receipt"],
            email_receipt=form.cleaned_data["email_receipt"],
        )
    except DomainError as error:
        form.add_error(None, error.message)
        return _render_checkout(request, patient, form, lines)
    sent = [f"texted to {format_phone(done.texted_to)}"] if done.texted_to else []
    sent += [f"emailed to {done.emailed_to}"] if done.emailed_to else []
    if sent:
        messages.success(request, f"Purchase recorded. The receipt is {' and '.join(sent)}.")
    # A double click returns the same purchase (the token is its external id): one purchase, one receipt.
    return redirect("loyalty:purchase_detail", purchase_id=done.purchase.pk)


@staff_required
@require_POST
def checkout_quote(request):
    """The quote part of the checkout alone, which htmx asks for whenever a line changes."""
    form, lines = _bound_checkout(request.POST)
    quote = None
    if form.is_valid() and lines.is_valid():
        quote = _quote_for_display(form.cleaned_data["patient"], lines)
    return render(request, "loyalty/staff/_checkout_quote.html", {"quote": quote, "lines": lines})


@staff_required
def checkout_items(request):
    """Suggestions for a line's item, as its name is typed (htmx): the first few active catalog items that match."""
    index = _number(request.GET.get("line", ""))
    if index is None or index >= MAX_CHECKOUT_LINES:
        return HttpResponse(status=400)
    query = request.GET.get(f"{LINES_PREFIX}-{index}-item_search", "").strip()[:200]
    items = list(catalog_items(query=query, status="active")[:ITEM_SUGGESTIONS]) if query else []
    return render(request, "loyalty/staff/_item_suggestions.html", {"items": items, "query": query, "index": index})


@staff_required
def checkout_line(request):
    """One checkout line (htmx): line `line` with the item chosen from the suggestions, or, for "Add a line", a
    new empty one after the page's `lines-TOTAL_FORMS` (whose count goes up with it). The quote follows."""
    item = None
    if (item_id := _number(request.GET.get("item", ""))) is not None:
        item = CatalogItem.objects.filter(is_active=True, pk=item_id).first()
    index = _number(request.GET.get("line", "") if item else request.GET.get(f"{LINES_PREFIX}-TOTAL_FORMS", ""))
    if index is None or index >= MAX_CHECKOUT_LINES:
        return HttpResponse(status=400)
    initial = {"item": item.pk, "item_search": item_label(item), "quantity": 1} if item else {}
    context = {
        "line": CheckoutLineForm(prefix=f"{LINES_PREFIX}-{index}", initial=initial),
        "index": index,
        "number": index + 1,
        "added": item is None,
        "focus": item is not None,
        "oob_count": item is None,
    }
    response = render(request, "loyalty/staff/_checkout_line.html", context)
    response["HX-Trigger"] = "checkout-changed"
    return response


def _quote_for_display(patient: Patient, lines: CheckoutLineFormSet) -> dict:
    quote = quote_purchase(patient=patient, lines=lines.lines())
    summary = points_summary(patient=patient)
    rows = [
        {
            "name": priced["line"].item.name if priced["line"].item else priced["line"].name,
            "quantity": priced["line"].quantity,
            "unit_price_cents": priced["line"].unit_price_cents,
            "total_cents": priced["total_cents"],
            "base_points": priced["base"],
            "campaign": priced["campaign"],
        }
        for priced in quote["lines"]
    ]
    return {
        "rows": rows,
        "total_cents": quote["total_cents"],
        "points": quote["points"],
        "tier_multiplier_percent": quote["tier_multiplier_percent"],
        "tier_multiplier": f"{quote['tier_multiplier_percent'] / 100:g}",
        "balance": summary.balance,
        "balance_after": summary.balance + quote["points"],
    }


def _render_checkout(request, patient: Patient, form, lines, quote: dict | None = None):
    return render(
        request,
        "loyalty/staff/checkout.html",
        {
            "patient": patient,
            "points": points_summary(patient=patient),
            "form": form,
            "lines": lines,
            "quote": quote,
            "can_add_line": lines.total_form_count() < MAX_CHECKOUT_LINES,
            "can_text_receipt": receipts.can_text_receipt(patient),
            "can_email_receipt": receipts.can_email_receipt(patient),
        },
    )


# ---------------------------------------------------------------- receipts and refunds


def _purchase(purchase_id: int) -> Purchase:
    return get_object_or_404(Purchase.objects.select_related("patient__user", "recorded_by"), pk=purchase_id)


@staff_required
def purchase_detail(request, purchase_id: int):
    purchase = _purchase(purchase_id)
    return _render_receipt(request, purchase)


@staff_required
def purchase_print(request, purchase_id: int):
    """The receipt to print and hand over: the practice, the items, the total, the points and the balance."""
    purchase = _purchase(purchase_id)
    return render(request, "loyalty/staff/receipt_print.html", receipts.receipt_context(purchase))


def _render_receipt(request, purchase: Purchase, refund_form: RefundForm | None = None):
    receipt = purchase_receipt(purchase=purchase)
    can_refund = request.staff_member.has_role(Role.MANAGER) and receipt.can_refund
    if can_refund and refund_form is None:
        refund_form = RefundForm(lines=receipt.lines, initial={"token": new_desk_token()})
    return render(
        request,
        "loyalty/staff/purchase_detail.html",
        {
            "purchase": purchase,
            "receipt": receipt,
            "refund_form": refund_form if can_refund else None,
        },
    )


@staff_required(role=Role.MANAGER)
@require_POST
def purchase_refund(request, purchase_id: int):
    purchase = _purchase(purchase_id)
    lines = list(purchase.lines.all())
    form = RefundForm(request.POST, lines=lines)
    if not form.is_valid():
        return _render_receipt(request, purchase, form)
    chosen = form.cleaned_data["lines"]
    if request.POST.get("step") != "confirm":
        # The confirmation step: what will be refunded, before anything is written.
        if chosen is None:
            chosen = [(line.pk, line.quantity - line.refunded_quantity) for line in lines]
        by_pk = {line.pk: line for line in lines}
        rows = [{"line": by_pk[pk], "quantity": quantity} for pk, quantity in chosen if quantity > 0]
        amount = sum(row["line"].unit_price_cents * row["quantity"] for row in rows)
        return render(
            request,
            "loyalty/staff/refund_confirm.html",
            {"purchase": purchase, "form": form, "rows": rows, "amount_cents": amount},
        )
    try:
        refund, _created = staff_services.refund_by_staff(
            purchase=purchase,
            lines=chosen,
            token=form.cleaned_data["token"],
            actor=request.user,
            reason=form.cleaned_data["reason"],
        )
    except DomainError as error:
        form.add_error(None, error.message)
        return _render_receipt(request, purchase, form)
    text = f"Refunded {money(refund.amount_cents)}; {format_number(refund.points_taken)} points taken back"
    if refund.shortfall_points:
        text += f" ({format_number(refund.shortfall_points)} had already been spent)"
    messages.success(request, text + ".")
    return redirect("loyalty:purchase_detail", purchase_id=purchase.pk)
