"""`make bench-dashboard` writes its history with plain SQL, which the ORM's defaults do not cover: a new
NOT NULL column breaks it. Its statements run here at a few rows each."""

import importlib.util
from pathlib import Path

from django.utils import timezone

from loyalty.models import LedgerEntry
from patients.models import Patient
from rewards.models import Redemption


def load_bench():
    path = Path(__file__).resolve().parents[2] / "bench" / "dashboard.py"
    spec = importlib.util.spec_from_file_location("bench_dashboard", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_dashboard_benchmark_builds_its_history(alpha, monkeypatch):
    bench = load_bench()
    sizes = {"PATIENTS": 60, "PURCHASES": 120, "LEDGER_ENTRIES": 400, "REFERRALS": 10, "REDEMPTIONS": 30}
    sizes |= {"REFUNDS": 5, "PATIENT_CODES": 10, "VISIT_ROWS": 20, "ACTIVITIES": 200}
    for name, value in sizes.items():
        monkeypatch.setattr(bench, name, value)

    bench.build(alpha, timezone.now())

    assert Patient.objects.count() == 60
    assert Redemption.objects.count() == 30
    assert LedgerEntry.objects.exists()
