"""The desk's checkout and its receipts: the printable one, and a text or an email when the patient may get one.

`check_out` records the purchase and queues the receipts in the same transaction, so a receipt is never sent
for a purchase that was not recorded, nor lost when the process stops after commit; a double submit of the
form records one purchase and sends its receipts once.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import User
from patients.messaging import queue_sms
from patients.models import Message, Patient
from practices.formatting import format_money, format_points
from practices.selectors import current_practice, practice_url
from practices.tasks import enqueue_for_practice

from .models import PointsAccount, Purchase
from .services import LineIn, record_purchase

# A text lists this many items at most ("and 2 more").
ITEMS_IN_TEXT = 3


def can_text_receipt(patient: Patient) -> bool:
    """Only to a patient who agreed to texts from the practice and has not replied STOP."""
    return patient.can_receive_marketing_sms


def can_email_receipt(patient: Patient) -> bool:
    """Only to the address the patient confirmed (an address waiting for its link is not used)."""
    return bool(patient.user.email)


@dataclass(frozen=True)
class Checkout:
    purchase: Purchase
    created: bool
    texted_to: str = ""
    emailed_to: str = ""


@transaction.atomic
def check_out(
    *,
    patient: Patient,
    lines: list[LineIn],
    token: str,
    actor: User,
    payment_method: str,
    text_receipt: bool = False,
    email_receipt: bool = False,
) -> Checkout:
    """Record the desk's purchase (once per checkout form: `token` is its external id) and, for a new one, queue
    the receipts asked for that the patient may get. Returns what was recorded and where the receipts go."""
    purchase, created = record_purchase(
        patient=patient,
        lines=lines,
        source=Purchase.Source.DESK,
        external_id=token,
        actor=actor,
        payment_method=payment_method,
    )
    if not created:
        return Checkout(purchase, created=False)
    texted_to = emailed_to = ""
    if text_receipt and can_text_receipt(patient):
        queue_sms(to=patient.phone, body=receipt_text(purchase), purpose=Message.Purpose.TRANSACTIONAL, patient=patient)
        texted_to = patient.phone
    if email_receipt and can_email_receipt(patient):
        enqueue_for_practice(
            "loyalty.receipts.send_receipt_email", purchase.pk, key=f"receipt_email:{purchase.pk}", once=True
        )
        emailed_to = patient.user.email
    return Checkout(purchase, created=True, texted_to=texted_to, emailed_to=emailed_to)


def _balance(purchase: Purchase) -> int:
    return PointsAccount.objects.filter(patient_id=purchase.patient_id).values_list("balance", flat=True).first() or 0


def receipt_text(purchase: Purchase) -> str:
    """The receipt as a text: the items, the total, the points earned and the balance, and where to see more."""
    practice = current_practice()
    lines = list(purchase.lines.all())
    shown = lines[:ITEMS_IN_TEXT]
    items = ", ".join(f"{line.name} ×{line.quantity}" if line.quantity > 1 else line.name for line in shown)
    if len(lines) > ITEMS_IN_TEXT:
        items += f" and {len(lines) - ITEMS_IN_TEXT} more"
    day = timezone.localtime(purchase.purchased_at).strftime("%b %-d")
    earned = f" You earned {format_points(purchase.points)}." if purchase.points else ""
    total = format_money(purchase.total_cents)
    return (
        f"{practice.sms_name}: thank you! Receipt #{purchase.pk}, {day}: {items}. Total {total}.{earned} "
        f"Your balance: {format_points(_balance(purchase))}. {practice_url(practice, '/points/')}"
    )


def receipt_context(purchase: Purchase) -> dict:
    """What every receipt shows (the printable page and the email)."""
    return {
        "purchase": purchase,
        "lines": list(purchase.lines.all()),
        "balance": _balance(purchase),
        "practice": current_practice(),
    }


def send_receipt_email(purchase_id: int) -> bool:
    """Task: email the receipt to the patient's confirmed address (queued once per purchase by check_out)."""
    purchase = Purchase.objects.select_related("patient__user").filter(pk=purchase_id).first()
    if purchase is None or not can_email_receipt(purchase.patient):
        return False
    practice = current_practice()
    context = {**receipt_context(purchase), "points_url": practice_url(practice, "/points/")}
    subject = " ".join(render_to_string("loyalty/email/receipt_subject.txt", context).split())
    body = render_to_string("loyalty/email/receipt_message.txt", context)
    message = EmailMultiAlternatives(subject, body, settings.DEFAULT_FROM_EMAIL, [purchase.patient.user.email])
    message.send()
    return True
