"""Forms of the staff referral pages. They parse and check what staff type; the views pass the cleaned
values to referrals.services, which does the writing."""

from __future__ import annotations

from django import forms
from django.db.models import Q
from django.utils import timezone

from loyalty.forms import DollarsField, format_dollars
from patients.errors import InvalidPhone
from patients.models import Patient
from patients.phones import display_phone, normalize_phone
from practices.formatting import format_money

from .models import Milestone, Partner, Referral, ReferralCode, ReferralSettings, RewardKind, Visit
from .services import RewardSpec, short_name
from .staff_selectors import NO_OWNER

MAX_POINTS = 1_000_000
MAX_CREDIT_CENTS = 100_000_00  # $100,000: more is a typing mistake
MAX_PURCHASE_CENTS = 1_000_000_00
DATE_INPUT = forms.DateInput(attrs={"type": "date"})


# ---------------------------------------------------------------- the activity log


class ReferralFilterForm(forms.Form):
    q = forms.CharField(
        label="Search",
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={"type": "search", "autocomplete": "off", "placeholder": "Code, new patient or code owner"}
        ),
    )
    status = forms.ChoiceField(label="Status", required=False, choices=[("", "Any status"), *Referral.Status.choices])
    owner_kind = forms.ChoiceField(
        label="Code owner",
        required=False,
        choices=[("", "Anyone"), *ReferralCode.OwnerKind.choices, (NO_OWNER, "Unknown code")],
    )
    source = forms.ChoiceField(label="Source", required=False, choices=[("", "Any source"), *Visit.Source.choices])
    since = forms.DateField(label="Joined from", required=False, widget=DATE_INPUT)
    until = forms.DateField(label="Joined until", required=False, widget=DATE_INPUT)

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", "The end date must be on or after the start date.")
        return data


# ---------------------------------------------------------------- rewards (settings and partners)


class RewardFieldsMixin:
    """A reward typed as a kind plus its value: points, a credit in dollars or a percent discount.

    `reward_prefixes` names the field groups (<prefix>_reward_kind, _points, _credit, _percent_off)."""

    reward_prefixes: tuple[str, ...] = ()

    def _reward_fields(self, prefix: str) -> None:
        whose = {"referrer": "Referrer", "referee": "New patient"}[prefix]
        self.fields[f"{prefix}_points"] = forms.IntegerField(
            label=f"{whose}: points",
            required=False,
            min_value=1,
            max_value=MAX_POINTS,
            help_text="e.g. 250",
        )
        self.fields[f"{prefix}_credit"] = DollarsField(
            label=f"{whose}: credit ($)", required=False, help_text="In dollars, e.g. 25.00"
        )
        self.fields[f"{prefix}_percent_off"] = forms.IntegerField(
            label=f"{whose}: discount (%)",
            required=False,
            min_value=1,
            max_value=100,
            help_text="1 to 100",
            error_messages={
                "min_value": "Enter a discount from 1 to 100 percent.",
                "max_value": "Enter a discount from 1 to 100 percent.",
            },
        )

    def _clean_reward(self, data: dict, prefix: str) -> None:
        kind = data.get(f"{prefix}_reward_kind")
        points, credit, percent = f"{prefix}_points", f"{prefix}_credit", f"{prefix}_percent_off"
        if kind == RewardKind.POINTS and points not in self.errors and not data.get(points):
            self.add_error(points, "Enter the points, e.g. 250.")
        if kind == RewardKind.CREDIT and credit not in self.errors:
            if not data.get(credit):
                self.add_error(credit, "A credit reward needs an amount in dollars, e.g. 25.00.")
            elif data[credit] > MAX_CREDIT_CENTS:
                self.add_error(credit, f"A credit can be at most {format_money(MAX_CREDIT_CENTS, whole=True)}.")
        if kind == RewardKind.PERCENT and percent not in self.errors:
            value = data.get(percent)
            if value is None or not 1 <= value <= 100:
                self.add_error(percent, "Enter a discount from 1 to 100 percent.")

    def reward_values(self, prefix: str) -> dict:
        """The model fields of the reward; the values of the kinds not chosen are cleared."""
        data = self.cleaned_data
        kind = data[f"{prefix}_reward_kind"]
        return {
            f"{prefix}_reward_kind": kind,
            f"{prefix}_points": (data.get(f"{prefix}_points") or 0) if kind == RewardKind.POINTS else 0,
            f"{prefix}_credit_cents": (data.get(f"{prefix}_credit") or 0) if kind == RewardKind.CREDIT else 0,
            f"{prefix}_percent_off": (data.get(f"{prefix}_percent_off") or 0) if kind == RewardKind.PERCENT else 0,
        }

    @staticmethod
    def reward_initial(row, prefix: str) -> dict:
        return {
            f"{prefix}_reward_kind": getattr(row, f"{prefix}_reward_kind"),
            f"{prefix}_points": getattr(row, f"{prefix}_points") or None,
            f"{prefix}_credit": format_dollars(getattr(row, f"{prefix}_credit_cents") or None),
            f"{prefix}_percent_off": getattr(row, f"{prefix}_percent_off") or None,
        }


class ReferralSettingsForm(RewardFieldsMixin, forms.Form):
    enabled = forms.BooleanField(
        label="Referrals are on: patients, staff and partners can refer new patients", required=False
    )
    referrer_reward_kind = forms.ChoiceField(
        label="Reward for the patient who refers",
        choices=RewardKind.choices,
        widget=forms.RadioSelect,
        help_text="Given when the friend's referral qualifies. Staff and partners are counted, not rewarded.",
        error_messages={"required": "Choose the referrer's reward (or Nothing)."},
    )
    referee_reward_kind = forms.ChoiceField(
        label="Reward for the new patient",
        choices=RewardKind.choices,
        widget=forms.RadioSelect,
        help_text="Given to the friend who joined with the code, when their first purchase qualifies.",
        error_messages={"required": "Choose the new patient's reward (or Nothing)."},
    )
    min_purchase = DollarsField(
        label="Minimum qualifying purchase ($)",
        help_text="The friend's first purchase of at least this amount qualifies the referral. 0: any purchase.",
        error_messages={"required": "Enter the minimum purchase in dollars, e.g. 50.00 (0 for any purchase)."},
    )
    yearly_limit = forms.IntegerField(
        label="Referrals per referrer per calendar year",
        required=False,
        min_value=1,
        max_value=10_000,
        help_text="Sign-ups beyond it are not counted (the friend still joins). Empty: no limit.",
    )
    reward_staff_referrals = forms.BooleanField(
        label="New patients referred by staff get the new-patient reward",
        required=False,
        help_text="Staff referrals always count on the leaderboard.",
    )
    clawback_days = forms.IntegerField(
        label="Take rewards back after a refund within (days)",
        min_value=0,
        max_value=3650,
        help_text="A refund of the qualifying purchase within this many days takes the referral's rewards back. "
        "0: never.",
        error_messages={"required": "Enter the number of days (0 to never take rewards back)."},
    )

    reward_prefixes = ("referrer", "referee")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for prefix in self.reward_prefixes:
            self._reward_fields(prefix)

    @classmethod
    def initial_from(cls, row: ReferralSettings) -> dict:
        return {
            "enabled": row.enabled,
            **cls.reward_initial(row, "referrer"),
            **cls.reward_initial(row, "referee"),
            "min_purchase": format_dollars(row.min_purchase_cents),
            "yearly_limit": row.yearly_limit,
            "reward_staff_referrals": row.reward_staff_referrals,
            "clawback_days": row.clawback_days,
        }

    def clean_min_purchase(self):
        cents = self.cleaned_data["min_purchase"]
        if cents is not None and cents > MAX_PURCHASE_CENTS:
            raise forms.ValidationError(f"Enter at most {format_money(MAX_PURCHASE_CENTS, whole=True)}.")
        return cents

    def clean(self):
        data = super().clean()
        for prefix in self.reward_prefixes:
            self._clean_reward(data, prefix)
        return data

    def service_values(self) -> dict:
        """The cleaned data as referrals.services.update_referral_settings takes it."""
        data = self.cleaned_data
        return {
            "enabled": data["enabled"],
            **self.reward_values("referrer"),
            **self.reward_values("referee"),
            "min_purchase_cents": data["min_purchase"],
            "yearly_limit": data.get("yearly_limit"),
            "reward_staff_referrals": data["reward_staff_referrals"],
            "clawback_days": data["clawback_days"],
        }


class MilestoneForm(forms.Form):
    count = forms.IntegerField(
        label="Qualified referrals",
        min_value=1,
        max_value=10_000,
        error_messages={"required": "Enter after how many qualified referrals, e.g. 3."},
    )
    points = forms.IntegerField(
        label="Bonus points",
        min_value=1,
        max_value=MAX_POINTS,
        error_messages={"required": "Enter the bonus in points, e.g. 500."},
    )

    def __init__(self, *args, milestone: Milestone | None = None, **kwargs):
        self.milestone = milestone
        if milestone is not None:
            kwargs.setdefault("initial", {"count": milestone.count, "points": milestone.points})
        super().__init__(*args, **kwargs)

    def clean_count(self):
        count = self.cleaned_data["count"]
        others = Milestone.objects.filter(count=count)
        if self.milestone is not None:
            others = others.exclude(pk=self.milestone.pk)
        if others.exists():
            raise forms.ValidationError(f"There is already a milestone at {count} referrals: edit that one.")
        return count


class PartnerForm(RewardFieldsMixin, forms.ModelForm):
    referee_reward_kind = forms.ChoiceField(
        label="Reward for the new patients they bring",
        choices=[("default", "Program default"), *RewardKind.choices],
        widget=forms.RadioSelect,
        error_messages={"required": "Choose the new patients' reward (or Program default)."},
    )

    class Meta:
        model = Partner
        fields = ["name", "kind", "contact_name", "email", "phone", "notes", "is_active"]
        labels = {
            "name": "Name",
            "kind": "Kind",
            "contact_name": "Contact person",
            "email": "Email",
            "phone": "Phone",
            "notes": "Notes",
            "is_active": "Active: sign-ups with their code count",
        }
        help_texts = {
            "name": "As patients know them, e.g. Glow Studio or @jane.skincare.",
            "phone": "Optional. A patient with this number can't use the partner's code.",
            "notes": "For staff only, e.g. the agreement.",
        }
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}
        error_messages = {"name": {"required": "Give the partner a name."}}

    field_order = ["name", "kind", "contact_name", "email", "phone", "notes", "is_active", "referee_reward_kind"]
    reward_prefixes = ("referee",)

    def __init__(self, *args, program: ReferralSettings, **kwargs):
        super().__init__(*args, **kwargs)
        self._reward_fields("referee")
        default = RewardSpec.from_fields(program, "referee")
        self.fields["referee_reward_kind"].help_text = (
            f"Program default: {default.label.lower() if default.gives_something else 'nothing'}, "
            "as set in the referral settings."
        )
        if self.instance.pk:
            self.initial.update(self.reward_initial(self.instance, "referee"))
            self.initial["phone"] = display_phone(self.instance.phone)
        else:
            self.initial.setdefault("referee_reward_kind", "default")

    def clean_name(self):
        return self.cleaned_data["name"].strip()

    def clean_phone(self):
        raw = self.cleaned_data.get("phone", "").strip()
        if not raw:
            return ""
        try:
            return normalize_phone(raw)
        except InvalidPhone as error:
            raise forms.ValidationError(error.message) from None

    def clean(self):
        data = super().clean()
        self._clean_reward(data, "referee")
        return data

    def partner(self) -> Partner:
        """The partner with the typed values, not saved yet (referrals.services.save_partner saves it)."""
        partner = self.instance
        for name, value in self.reward_values("referee").items():
            setattr(partner, name, value)
        return partner


# ---------------------------------------------------------------- escalations


class EscalationForm(forms.Form):
    message = forms.CharField(
        label="What looks wrong",
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What the patient says and what you checked. Platform support sees the practice, the patient "
        "and the referral you pick.",
        error_messages={"required": "Describe what looks wrong."},
    )
    referral = forms.ModelChoiceField(
        label="About the referral",
        required=False,
        queryset=Referral.objects.none(),
        empty_label="Not about one referral",
        error_messages={"invalid_choice": "Choose one of this patient's referrals."},
    )

    def __init__(self, *args, patient: Patient, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["referral"]
        field.queryset = (
            Referral.objects.filter(Q(referred=patient) | Q(code__patient=patient))
            .select_related("referred__user")
            .order_by("-created_at", "-id")
        )

        def label(referral: Referral) -> str:
            when = f"{timezone.localtime(referral.created_at):%b %-d, %Y}"
            if referral.referred_id == patient.pk:
                what = f"Joined with {referral.code_used}"
            else:
                what = f"Referred {short_name(referral.referred)}"
            return f"{what} on {when}: {referral.get_status_display()}"

        field.label_from_instance = label
