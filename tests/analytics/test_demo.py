"""The demo practice's dashboard shows a year of activity, rolled up by the demo's last step."""

from datetime import timedelta
from zoneinfo import ZoneInfo

from django.core.management import call_command
from django.utils import timezone
from django_tenants.utils import tenant_context

from analytics import selectors
from analytics.models import RollupState
from analytics.periods import preset_period
from practices.models import Practice
from rewards.models import Redemption


def test_the_demo_has_a_year_of_figures_on_rollups(db):
    call_command("seed_demo", patients=60)
    practice = Practice.objects.get(slug="demo")

    with tenant_context(practice):
        zone = ZoneInfo(practice.time_zone)
        year = preset_period("12m", today=timezone.now().astimezone(zone).date(), zone=zone)
        state = RollupState.objects.get()
        assert state.rolled_through >= timezone.now().astimezone(zone).date() - timedelta(days=2)
        figures = selectors.dashboard(year, with_money=True)
        assert figures["members"]["new"] == 60
        assert figures["points"]["issued"] > 0 and figures["revenue"]["all"].net_cents > 0
        assert figures["rewards"]["totals"]["issued"] == Redemption.objects.filter(reward__is_gift=False).count() > 0
        assert figures["rewards"]["totals"]["used"] > 0

        RollupState.objects.all().delete()  # the same figures from the raw rows
        raw = selectors.dashboard(year, with_money=True)
        assert raw["points"] == figures["points"] and raw["members"] == figures["members"]
