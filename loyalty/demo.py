"""Demo data for `seed_demo`: a med-spa catalog, tiers, bonus actions and a year of purchases.

Purchases are recorded through the real services with the clock set to each purchase's time, so
ledger entries, timelines, tiers and expiry dates are exactly what a year of use would have left.
"""

import random
from datetime import timedelta

import time_machine
from django.utils import timezone

from patients.models import Patient
from practices.models import Practice

from .models import CatalogItem, EarningAction, Purchase, Tier
from .services import LineIn, award_action, program_settings, record_purchase

CATALOG = [
    # name, category, kind, price in cents, earning, fixed points
    ("Botox (per area)", "Injectables", "service", 35_000, "per_dollar", 0),
    ("Dermal filler (1 syringe)", "Injectables", "service", 70_000, "per_dollar", 0),
    ("HydraFacial", "Facials", "service", 22_500, "per_dollar", 0),
    ("Chemical peel", "Facials", "service", 15_000, "per_dollar", 0),
    ("Microneedling", "Skin treatments", "service", 40_000, "per_dollar", 0),
    ("Laser hair removal (small area)", "Laser", "service", 12_500, "per_dollar", 0),
    ("IPL photofacial", "Laser", "service", 35_000, "per_dollar", 0),
    ("Teeth whitening", "Dental", "service", 30_000, "fixed", 250),
    ("Consultation", "Consultations", "service", 0, "none", 0),
    ("Vitamin C serum", "Skincare", "product", 9_800, "per_dollar", 0),
    ("Mineral sunscreen SPF 50", "Skincare", "product", 4_500, "per_dollar", 0),
    ("Retinol night cream", "Skincare", "product", 8_200, "per_dollar", 0),
    ("Gift card", "Gift cards", "product", 10_000, "none", 0),
]
TIERS = [("Silver", 500, 110, "10% more points"), ("Gold", 1500, 125, "25% more points, priority booking")]
TIERS += [("Platinum", 3000, 150, "50% more points, a free HydraFacial every year")]
ACTIONS = [
    ("birthday", "Birthday bonus", 100, "yearly"),
    ("cross_booking", "Tried a new treatment", 50, "unlimited"),
    ("google_review", "Google review", 100, "once"),
    ("open_house", "Open house attendance", 50, "yearly"),
    ("charity", "Charity event", 75, "yearly"),
]


def seed_program(practice: Practice) -> None:
    """Catalog, tiers and actions, each created once."""
    program_settings()
    for index, (name, category, kind, price, earning, fixed) in enumerate(CATALOG):
        CatalogItem.objects.get_or_create(
            external_id=f"DEMO-{index + 1:03d}",
            defaults={
                "name": name,
                "category": category,
                "kind": kind,
                "price_cents": price,
                "earning": earning,
                "fixed_points": fixed,
            },
        )
    for order, (name, threshold, multiplier, perks) in enumerate(TIERS):
        Tier.objects.get_or_create(
            threshold_points=threshold,
            defaults={"name": name, "multiplier_percent": multiplier, "perks": perks, "sort_order": order},
        )
    for kind, name, points, limit in ACTIONS:
        EarningAction.objects.get_or_create(kind=kind, name=name, defaults={"points": points, "limit": limit})


def seed_purchases(practice: Practice) -> None:
    """A year of purchases for the demo patients (skipped once any purchase exists)."""
    if Purchase.objects.exists():
        return
    rng = random.Random(4242)
    items = list(CatalogItem.objects.filter(external_id__startswith="DEMO-"))
    services = [i for i in items if i.kind == "service" and i.price_cents]
    products = [i for i in items if i.kind == "product"]
    review = EarningAction.objects.filter(kind="google_review").first()
    now = timezone.now()
    events = []
    for patient in Patient.objects.filter(status=Patient.Status.ACTIVE).select_related("user"):
        joined = patient.joined_at or now - timedelta(days=200)
        visits = rng.choices([0, 1, 2, 3, 4, 6, 8], weights=[2, 4, 4, 3, 2, 1, 1])[0]
        favourite = rng.choice(services)
        for _ in range(visits):
            at = joined + timedelta(days=rng.uniform(0, max(1, (now - joined).days)), hours=rng.uniform(0, 8))
            if at >= now - timedelta(minutes=5):
                continue
            lines = [favourite if rng.random() < 0.6 else rng.choice(services)]
            if rng.random() < 0.35:
                lines.append(rng.choice(products))
            events.append((at, "purchase", patient, lines))
        if rng.random() < 0.15:
            events.append((joined + timedelta(days=rng.uniform(1, 30)), "review", patient, None))
    events.sort(key=lambda event: event[0])
    for index, (at, kind, patient, lines) in enumerate(events):
        if at >= now:
            continue
        with time_machine.travel(at, tick=False):
            if kind == "purchase":
                record_purchase(
                    patient=patient,
                    lines=[LineIn(item=item, quantity=1, unit_price_cents=item.price_cents) for item in lines],
                    source=Purchase.Source.POS if index % 3 else Purchase.Source.DESK,
                    external_id=f"demo-{index}",
                    purchased_at=at,
                    payment_method=rng.choice(["card", "card", "card", "cash"]),
                )
            elif review is not None:
                award_action(patient=patient, action=review, note="Left a 5-star review")
