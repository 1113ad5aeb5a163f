"""Forms of the rewards staff pages. They parse and check input; the views pass the cleaned data to
rewards.staff_services or rewards.services, which do the writing."""

from __future__ import annotations

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator

from loyalty.forms import DATETIME_LOCAL, DollarsField, format_dollars
from loyalty.models import CatalogItem, Tier
from practices.formatting import format_number

from .images import UnusableImage, reward_jpeg
from .models import Reward
from .selectors import available_rewards

DATETIME_INPUTS = [DATETIME_LOCAL, "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]
MAX_INTEGER = 2_147_483_647  # PostgreSQL integer columns


class RewardForm(forms.ModelForm):
    credit = DollarsField(label="Credit ($)", required=False, help_text="For a service credit, e.g. 50.00.")
    upload = forms.FileField(
        label="Picture (optional)",
        required=False,
        help_text="JPG, PNG or WebP, up to 5 MB. It is shrunk to fit 1200 × 1200.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )

    class Meta:
        model = Reward
        fields = [
            "name",
            "description",
            "kind",
            "percent_off",
            "item",
            "points_cost",
            "min_tier",
            "starts_at",
            "ends_at",
            "stock",
            "per_patient_limit",
            "limit_period",
            "is_active",
        ]
        labels = {
            "kind": "Kind",
            "percent_off": "Discount (%)",
            "item": "Free item",
            "points_cost": "Points cost",
            "min_tier": "Minimum tier",
            "starts_at": "Available from",
            "ends_at": "Available until",
            "stock": "Stock",
            "per_patient_limit": "Limit per patient",
            "limit_period": "Limit applies",
            "is_active": "Active (patients can redeem it)",
        }
        help_texts = {
            "description": "What the patient gets and any conditions, shown on the reward.",
            "percent_off": "For a percent discount: 1 to 100.",
            "item": "For a free product or service from the catalog.",
            "min_tier": "Empty: every patient can redeem it.",
            "stock": "How many vouchers can still be issued. Empty: unlimited.",
            "per_patient_limit": "Empty: no limit. Cancelled vouchers don't count.",
        }
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "kind": forms.RadioSelect,
            "limit_period": forms.RadioSelect,
            "starts_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
            "ends_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
        }
        error_messages = {
            "name": {"required": "Give the reward a name, e.g. $50 off your next treatment."},
            "kind": {"required": "Choose what kind of reward this is."},
            "points_cost": {"required": "Enter how many points it costs."},
        }

    field_order = ["name", "description", "upload", "kind", "credit", "percent_off", "item", "points_cost"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        items = CatalogItem.objects.filter(is_active=True)
        if self.instance.item_id:
            items = items | CatalogItem.objects.filter(pk=self.instance.item_id)  # kept even if deactivated
        self.fields["item"].queryset = items.order_by("category", "name")
        self.fields["item"].empty_label = "— Choose an item —"
        self.fields["item"].label_from_instance = lambda item: f"{item.name} · {item.category}"
        self.fields["min_tier"].queryset = Tier.objects.order_by("threshold_points")
        self.fields["min_tier"].empty_label = "Any tier (or none)"
        self.fields["points_cost"].validators += [MinValueValidator(1), MaxValueValidator(MAX_INTEGER)]
        self.fields["points_cost"].widget.attrs["min"] = 1
        for name in ("stock", "per_patient_limit"):
            self.fields[name].validators.append(MaxValueValidator(MAX_INTEGER))
        self.fields["per_patient_limit"].validators.append(MinValueValidator(1))
        for name in ("starts_at", "ends_at"):
            self.fields[name].input_formats = DATETIME_INPUTS
            self.fields[name].help_text = "Optional, in the practice's time zone."
        if self.instance.pk:
            self.initial.setdefault("credit", format_dollars(self.instance.credit_cents))

    def clean_upload(self):
        upload = self.cleaned_data.get("upload")
        if not upload:
            return None
        try:
            return reward_jpeg(upload)
        except UnusableImage as error:
            raise forms.ValidationError(str(error)) from None

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind == Reward.Kind.CREDIT and "credit" not in self.errors and not data.get("credit"):
            self.add_error("credit", "Enter the credit in dollars, e.g. 50.00.")
        if kind == Reward.Kind.PERCENT and "percent_off" not in self.errors:
            percent = data.get("percent_off")
            if percent is None or not 1 <= percent <= 100:
                self.add_error("percent_off", "Enter a discount from 1 to 100 percent.")
        if kind == Reward.Kind.FREE_ITEM and "item" not in self.errors and not data.get("item"):
            self.add_error("item", "Choose the free item from the catalog.")
        starts_at, ends_at = data.get("starts_at"), data.get("ends_at")
        if starts_at and ends_at and ends_at <= starts_at:
            self.add_error("ends_at", "The end must be after the start.")
        return data

    def service_values(self) -> dict:
        """The cleaned data as rewards.staff_services.save_reward takes it."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "description": data.get("description", ""),
            "kind": data["kind"],
            "credit_cents": data.get("credit"),
            "percent_off": data.get("percent_off"),
            "item": data.get("item"),
            "points_cost": data["points_cost"],
            "min_tier": data.get("min_tier"),
            "starts_at": data.get("starts_at"),
            "ends_at": data.get("ends_at"),
            "stock": data.get("stock"),
            "per_patient_limit": data.get("per_patient_limit"),
            "limit_period": data["limit_period"],
            "is_active": data["is_active"],
            "image": data.get("upload"),
        }


class MoveForm(forms.Form):
    direction = forms.ChoiceField(choices=[("up", "Up"), ("down", "Down")])


class VoucherCodeForm(forms.Form):
    code = forms.CharField(
        label="Voucher code",
        max_length=40,
        help_text="Type or scan it; lower case and spaces are fine.",
        error_messages={"required": "Type or scan the voucher code."},
        widget=forms.TextInput(
            attrs={
                "autofocus": True,
                "autocomplete": "off",
                "autocapitalize": "characters",
                "spellcheck": "false",
                "inputmode": "text",
            }
        ),
    )


class RedeemForm(forms.Form):
    reward = forms.ModelChoiceField(
        label="Reward",
        queryset=Reward.objects.none(),
        empty_label="— Choose a reward —",
        error_messages={
            "required": "Choose the reward to redeem.",
            "invalid_choice": "This reward is no longer available; choose another.",
        },
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reward"].queryset = available_rewards()
        self.fields["reward"].label_from_instance = lambda reward: (
            f"{reward.name} · {reward.value_label} · {format_number(reward.points_cost)} points"
        )


class RewardSettingsForm(forms.Form):
    voucher_valid_days = forms.IntegerField(
        label="Vouchers are valid for (days)", min_value=1, max_value=3650, help_text="For vouchers issued from now on."
    )
    refund_expired_vouchers = forms.BooleanField(
        required=False, label="Give the points back when a voucher expires unused"
    )


class VoucherFilterForm(forms.Form):
    """The voucher desk's list: which vouchers, of which reward, issued when (in the practice's time zone)."""

    STATUSES = [
        ("outstanding", "Ready to use"),
        ("used", "Used"),
        ("expired", "Expired"),
        ("cancelled", "Cancelled"),
        ("all", "Any status"),
    ]

    status = forms.ChoiceField(label="Status", required=False, choices=STATUSES)
    reward = forms.ModelChoiceField(
        label="Reward", required=False, queryset=Reward.objects.order_by("name"), empty_label="Any reward"
    )
    since = forms.DateField(label="Issued from", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="Issued until", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    # Vouchers are issued within these years; a date far outside them is a typing mistake (and the day after
    # 9999-12-31, the end of the range, does not exist).
    YEARS = (2000, 2100)

    def clean(self):
        data = super().clean()
        data["status"] = data.get("status") or "outstanding"
        for name in ("since", "until"):
            if data.get(name) and not self.YEARS[0] <= data[name].year <= self.YEARS[1]:
                self.add_error(name, f"Enter a date between {self.YEARS[0]} and {self.YEARS[1]}.")
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", "The end date must be on or after the start date.")
        return data
