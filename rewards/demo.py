"""Demo rewards for `seed_demo`, created once: credits, a discount and free treatments."""

from loyalty.models import CatalogItem, Tier
from practices.models import Practice

from .models import Reward

REWARDS = [
    # name, kind, points, credit cents, percent, catalog POS id of a free item, minimum tier threshold
    ("$25 off any treatment", "credit", 500, 2_500, None, None, None),
    ("$75 treatment credit", "credit", 1_400, 7_500, None, None, None),
    ("15% off skincare", "percent", 800, None, 15, None, None),
    ("Free chemical peel", "free_item", 2_500, None, None, "DEMO-004", None),
    ("Free HydraFacial", "free_item", 3_500, None, None, "DEMO-003", 1500),
]


def seed_rewards(practice: Practice) -> None:
    for order, (name, kind, points, credit, percent, item_id, tier_threshold) in enumerate(REWARDS):
        if Reward.objects.filter(name=name).exists():
            continue
        Reward.objects.create(
            name=name,
            kind=kind,
            points_cost=points,
            credit_cents=credit,
            percent_off=percent,
            item=CatalogItem.objects.filter(external_id=item_id).first() if item_id else None,
            min_tier=Tier.objects.filter(threshold_points=tier_threshold).first() if tier_threshold else None,
            display_order=order,
            description=f"Redeem {points:,} points for {name.lower()} at your next visit.",
        )
