"""Panels that higher apps (loyalty, rewards, referrals) add to the staff patient page.

A panel is a template rendered with `patient` and `request` plus the context its function returns;
it is registered from the app's AppConfig.ready, so this app never imports them.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest
from django.template.loader import render_to_string

from .models import Patient


@dataclass(frozen=True)
class PatientPanel:
    template: str
    context: Callable[[HttpRequest, Patient], dict]
    order: int = 100


_panels: list[PatientPanel] = []


def register_patient_panel(panel: PatientPanel) -> None:
    if panel not in _panels:
        _panels.append(panel)
        _panels.sort(key=lambda p: p.order)


def render_patient_panels(request: HttpRequest, patient: Patient) -> list[str]:
    return [
        render_to_string(panel.template, {"patient": patient, **panel.context(request, patient)}, request=request)
        for panel in _panels
    ]
