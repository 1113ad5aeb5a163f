"""Panels that higher apps (loyalty, rewards, referrals) add to patient pages, without this app
importing them: the staff patient page, and the patient's own home page.

A panel is a template rendered with `patient` and `request` plus the context its function returns;
it is registered from the app's AppConfig.ready.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.http import HttpRequest
from django.template.loader import render_to_string

from .models import Patient


@dataclass(frozen=True)
class PatientPanel:
    template: str
    context: Callable[[HttpRequest, Patient], dict]
    order: int = 100


@dataclass
class PanelRegistry:
    panels: list[PatientPanel] = field(default_factory=list)

    def register(self, panel: PatientPanel) -> None:
        if panel not in self.panels:
            self.panels.append(panel)
            self.panels.sort(key=lambda p: p.order)

    def render(self, request: HttpRequest, patient: Patient) -> list[str]:
        return [
            render_to_string(panel.template, {"patient": patient, **panel.context(request, patient)}, request=request)
            for panel in self.panels
        ]


staff_patient_panels = PanelRegistry()
patient_home_panels = PanelRegistry()


def register_patient_panel(panel: PatientPanel) -> None:
    """A panel on the staff portal's patient page."""
    staff_patient_panels.register(panel)


def render_patient_panels(request: HttpRequest, patient: Patient) -> list[str]:
    return staff_patient_panels.render(request, patient)


def register_home_panel(panel: PatientPanel) -> None:
    """A panel on the patient's own home page."""
    patient_home_panels.register(panel)
