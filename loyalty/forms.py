"""Forms of the staff portal's points pages. They parse and check input; the views pass the cleaned
data to loyalty.services or loyalty.staff_services, which do the writing."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal, InvalidOperation
from zoneinfo import available_timezones

from django import forms
from django.core.validators import RegexValidator

from patients.models import Patient
from practices.formatting import format_money
from practices.forms import CsvUploadForm

from .models import Campaign, CatalogItem, EarningAction, Tier
from .services import LineIn
from .staff_selectors import catalog_categories, catalog_items, staff_awardable_actions, staff_users

MAX_PRICE_CENTS = 2_147_483_647  # the column is a PostgreSQL integer
MAX_CHECKOUT_LINES = 50
MAX_IMPORT_BYTES = 2 * 1024 * 1024
DATETIME_LOCAL = "%Y-%m-%dT%H:%M"
DESK_TOKEN = re.compile(r"^desk-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def new_desk_token() -> str:
    """A one-time id for a checkout or refund form, used as the external id so a double submit records once."""
    return f"desk-{uuid.uuid4()}"


def parse_dollars(text: str) -> int:
    """ "120.00" (or "$1,200", "120") → 12000 cents; raises ValueError with a message for the person typing."""
    cleaned = text.strip().replace("$", "").replace(",", "")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError("Enter an amount in dollars, like 120.00.") from None
    if not amount.is_finite():
        raise ValueError("Enter an amount in dollars, like 120.00.")
    if amount < 0:
        raise ValueError("The amount can't be negative.")
    if amount.as_tuple().exponent < -2:
        raise ValueError("Use at most two decimals (cents), like 120.50.")
    cents = int(amount * 100)
    if cents > MAX_PRICE_CENTS:
        raise ValueError("This amount is too large.")
    return cents


def format_dollars(cents: int | None) -> str:
    """12000 → "120.00", as typed in a price field."""
    return "" if cents is None else f"{Decimal(cents) / 100:.2f}"


def times(percent: int) -> str:
    """125 → "1.25": a percentage multiplier written as a factor."""
    return f"{(Decimal(percent) / 100).normalize():f}"


def money(cents: int) -> str:
    """12000 → "$120.00" in the practice's currency, for reading."""
    return format_money(cents)


class DollarsField(forms.CharField):
    """An amount typed in dollars, cleaned to integer cents (None when empty and not required)."""

    MAX_CHARACTERS = 20

    def __init__(self, **kwargs):
        # No max_length: its validator would run on the cleaned integer; the length is checked below.
        attrs = {"inputmode": "decimal", "autocomplete": "off", "maxlength": self.MAX_CHARACTERS}
        kwargs.setdefault("widget", forms.TextInput(attrs=attrs))
        super().__init__(**kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        if len(value) > self.MAX_CHARACTERS:
            raise forms.ValidationError("Enter an amount in dollars, like 120.00.", code="invalid")
        try:
            return parse_dollars(value)
        except ValueError as error:
            raise forms.ValidationError(str(error), code="invalid") from None


# ---------------------------------------------------------------- catalog


class CatalogItemForm(forms.ModelForm):
    price = DollarsField(label="Price ($)", help_text="In dollars, e.g. 120.00.")

    class Meta:
        model = CatalogItem
        fields = [
            "name",
            "category",
            "kind",
            "earning",
            "points_per_dollar",
            "fixed_points",
            "external_id",
            "is_active",
        ]
        labels = {
            "earning": "Earning",
            "points_per_dollar": "Points per dollar",
            "fixed_points": "Fixed points per item",
            "external_id": "POS id",
            "is_active": "Active (can be sold and earns points)",
        }
        help_texts = {
            "points_per_dollar": "Only for “Points per dollar”. Leave empty to use the program's default.",
            "fixed_points": "Only for “Fixed points per item”.",
            "external_id": "The item's id in your point-of-sale system, if it has one.",
        }
        widgets = {"earning": forms.RadioSelect}
        error_messages = {
            "name": {"required": "Enter the item's name."},
            "category": {"required": "Enter a category, e.g. Injectables."},
        }

    field_order = ["name", "category", "kind", "price"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["price"].error_messages["required"] = "Enter the price, e.g. 120.00."
        self.fields["fixed_points"].required = False
        if self.instance.pk:
            self.initial.setdefault("price", format_dollars(self.instance.price_cents))

    def clean_external_id(self):
        external_id = (self.cleaned_data.get("external_id") or "").strip() or None
        if external_id:
            taken = CatalogItem.objects.filter(external_id=external_id).exclude(pk=self.instance.pk).first()
            if taken:
                raise forms.ValidationError(f"“{taken.name}” already has the POS id {external_id}.")
        return external_id

    def clean(self):
        data = super().clean()
        if data.get("earning") == CatalogItem.Earning.FIXED and not data.get("fixed_points"):
            self.add_error("fixed_points", "Enter the points each item earns (more than 0).")
        data["fixed_points"] = data.get("fixed_points") or 0
        return data

    def service_values(self) -> dict:
        """The cleaned data as loyalty.staff_services.save_catalog_item takes it."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "category": data["category"],
            "kind": data["kind"],
            "price_cents": data["price"],
            "earning": data["earning"],
            "points_per_dollar": data.get("points_per_dollar"),
            "fixed_points": data["fixed_points"],
            "external_id": data.get("external_id"),
            "is_active": data["is_active"],
        }


class CatalogSearchForm(forms.Form):
    q = forms.CharField(label="Find an item", required=False, max_length=100)
    status = forms.ChoiceField(
        label="Show",
        required=False,
        choices=[("", "Active and inactive"), ("active", "Active only"), ("inactive", "Inactive only")],
    )


class CatalogUploadForm(CsvUploadForm):
    max_bytes = MAX_IMPORT_BYTES
    too_large = "This file is larger than 2 MB; a catalog should be far smaller."


# ---------------------------------------------------------------- program settings


def parse_reminder_days(text: str) -> list[int]:
    """ "180, 30, 7, 1" → [180, 30, 7, 1]; raises ValueError with a message."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    days = []
    for part in parts:
        if not part.isdigit() or int(part) < 1:
            raise ValueError(f"“{part}” is not a whole number of days above 0.")
        days.append(int(part))
    if len(set(days)) != len(days):
        raise ValueError("Each number of days can appear only once.")
    return sorted(days, reverse=True)


class ProgramSettingsForm(forms.Form):
    points_per_dollar = forms.IntegerField(
        label="Points per dollar", min_value=0, max_value=1000, help_text="What a dollar earns on items that earn."
    )
    point_value_cents = forms.IntegerField(
        label="Value of one point (cents)",
        min_value=0,
        max_value=10_000,
        help_text="What one point is worth to the practice, e.g. 5 for 5¢. Used to show the liability.",
    )
    expiry_days = forms.IntegerField(
        label="Points expire after (days)",
        min_value=1,
        max_value=3650,
        help_text="Counted from the patient's last purchase; every purchase starts the clock again.",
    )
    reminder_days = forms.CharField(
        label="Expiry reminders (days before)",
        required=False,
        max_length=100,
        help_text="Comma-separated, e.g. 180, 30, 7, 1. Each must be fewer than the expiry days. Empty: no reminders.",
    )
    invite_unknown_pos_patients = forms.BooleanField(
        label="Invite patients the POS sends that we don't know yet (by SMS)", required=False
    )
    time_zone = forms.ChoiceField(label="Practice time zone", help_text="Birthdays, campaigns and reports use it.")

    MAX_REMINDERS = 8  # the column holds at most eight

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [(zone, zone.replace("_", " ")) for zone in sorted(available_timezones())]

    def clean_reminder_days(self) -> list[int]:
        try:
            days = parse_reminder_days(self.cleaned_data["reminder_days"])
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None
        if len(days) > self.MAX_REMINDERS:
            raise forms.ValidationError(f"At most {self.MAX_REMINDERS} reminders.")
        return days

    def clean(self):
        data = super().clean()
        expiry_days = data.get("expiry_days")
        days = data.get("reminder_days")
        if expiry_days and days and max(days) >= expiry_days:
            self.add_error(
                "reminder_days", f"Reminders must come before the points expire: use fewer than {expiry_days} days."
            )
        return data


# ---------------------------------------------------------------- tiers, campaigns, actions


class TierForm(forms.ModelForm):
    class Meta:
        model = Tier
        fields = ["name", "threshold_points", "multiplier_percent", "perks", "sort_order"]
        labels = {
            "threshold_points": "Points to reach it",
            "multiplier_percent": "Earning multiplier (%)",
            "sort_order": "Order",
        }
        help_texts = {
            "threshold_points": "Points earned in the last 12 months. 0 makes it the starting tier.",
            "multiplier_percent": "100 = ×1 (no boost), 125 = ×1.25, 200 = ×2.",
            "perks": "What members of this tier get, shown to patients.",
            "sort_order": "Only breaks ties in lists.",
        }
        widgets = {"perks": forms.Textarea(attrs={"rows": 3})}
        error_messages = {"name": {"required": "Give the tier a name, e.g. Gold."}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["multiplier_percent"].min_value = 100
        self.fields["multiplier_percent"].validators.append(_at_least_100)

    def clean_threshold_points(self) -> int:
        threshold = self.cleaned_data["threshold_points"]
        if Tier.objects.filter(threshold_points=threshold).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("Another tier already starts at this number of points.")
        return threshold


def _at_least_100(value: int) -> None:
    if value is not None and value < 100:
        raise forms.ValidationError("Use 100 or more: 100 means no boost, 125 means ×1.25.")


class CampaignForm(forms.ModelForm):
    category = forms.ChoiceField(label="Category", required=False)

    class Meta:
        model = Campaign
        fields = ["name", "multiplier_percent", "starts_at", "ends_at", "category", "is_active"]
        labels = {
            "multiplier_percent": "Multiplier (%)",
            "starts_at": "Starts",
            "ends_at": "Ends",
            "is_active": "Active",
        }
        help_texts = {"multiplier_percent": "200 = double points, 150 = ×1.5. Combines with the patient's tier."}
        widgets = {
            "starts_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
            "ends_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
        }
        error_messages = {
            "name": {"required": "Give the campaign a name, e.g. Double points weekend."},
            "starts_at": {"required": "Enter when it starts."},
            "ends_at": {"required": "Enter when it ends."},
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        categories = catalog_categories()
        if self.instance.category and self.instance.category not in categories:
            categories.append(self.instance.category)  # kept even if no item uses it any more
        self.fields["category"].choices = [("", "Every category")] + [(c, c) for c in categories]
        self.fields["multiplier_percent"].validators.append(_at_least_100)
        for name in ("starts_at", "ends_at"):
            self.fields[name].input_formats = [DATETIME_LOCAL, "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]
            self.fields[name].help_text = "In the practice's time zone."

    def clean(self):
        data = super().clean()
        starts_at, ends_at = data.get("starts_at"), data.get("ends_at")
        if starts_at and ends_at and ends_at <= starts_at:
            self.add_error("ends_at", "The end must be after the start.")
        return data


class ActionForm(forms.ModelForm):
    class Meta:
        model = EarningAction
        fields = ["kind", "name", "points", "limit", "is_active"]
        labels = {"limit": "How often a patient can get it", "is_active": "Active"}
        help_texts = {
            "kind": "Birthday and cross-booking are given automatically; the others by staff.",
            "name": "What staff and patients see, e.g. “Left us a Google review”.",
        }
        error_messages = {"name": {"required": "Give the action a name."}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["points"].min_value = 1
        self.fields["points"].validators.append(_positive)

    def clean_kind(self) -> str:
        kind = self.cleaned_data["kind"]
        if kind in EarningAction.AUTOMATIC_KINDS:
            existing = EarningAction.objects.filter(kind=kind).exclude(pk=self.instance.pk).first()
            if existing:
                label = EarningAction.Kind(kind).label.split(" (")[0].lower()
                raise forms.ValidationError(
                    f"There can be only one {label} action and “{existing.name}” is it: edit that one instead."
                )
        return kind


def _positive(value: int) -> None:
    if value is not None and value < 1:
        raise forms.ValidationError("Give at least 1 point.")


# ---------------------------------------------------------------- awarding and adjusting


class AwardForm(forms.Form):
    action = forms.ModelChoiceField(
        label="Action",
        queryset=EarningAction.objects.none(),
        empty_label="— Choose an action —",
        error_messages={
            "required": "Choose the action to award.",
            "invalid_choice": "This action can't be awarded by staff (or was switched off).",
        },
    )
    note = forms.CharField(label="Note (optional)", required=False, max_length=300)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].queryset = staff_awardable_actions()


class BulkAwardForm(forms.Form):
    patients = forms.ModelMultipleChoiceField(
        queryset=Patient.objects.all(),
        error_messages={
            "required": "Tick at least one patient.",
            "invalid_choice": "One of the ticked patients was not found; search again.",
        },
    )
    note = forms.CharField(label="Note (optional)", required=False, max_length=300)


class AdjustForm(forms.Form):
    points = forms.IntegerField(
        label="Points",
        min_value=-10_000_000,
        max_value=10_000_000,
        help_text="Positive to add, negative to remove (e.g. -200).",
        error_messages={"required": "Enter the number of points to add or remove."},
    )
    reason = forms.CharField(
        label="Reason",
        max_length=300,
        help_text="Kept in the audit log and shown on the patient's timeline.",
        error_messages={"required": "Give a reason for the adjustment."},
    )

    def clean_points(self) -> int:
        points = self.cleaned_data["points"]
        if points == 0:
            raise forms.ValidationError("Enter a number of points other than 0.")
        return points


class AdjustmentFilterForm(forms.Form):
    actor = forms.ModelChoiceField(label="Staff member", required=False, queryset=None, empty_label="Everyone")
    since = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["actor"].queryset = staff_users()
        self.fields["actor"].label_from_instance = lambda user: user.get_full_name() or user.email

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", "The end date must be on or after the start date.")
        return data


# ---------------------------------------------------------------- checkout and refunds

PAYMENT_METHODS = [("card", "Card"), ("cash", "Cash"), ("other", "Other")]
desk_token = RegexValidator(DESK_TOKEN, "This form has expired; start the checkout again.")


class CheckoutForm(forms.Form):
    patient = forms.ModelChoiceField(
        queryset=Patient.objects.select_related("user"),
        widget=forms.HiddenInput,
        error_messages={
            "required": "Choose the patient first.",
            "invalid_choice": "This patient was not found; choose the patient again.",
        },
    )
    payment_method = forms.ChoiceField(
        label="Payment method",
        choices=PAYMENT_METHODS,
        initial="card",
        widget=forms.RadioSelect,
        error_messages={"required": "Choose how the patient paid."},
    )
    token = forms.CharField(widget=forms.HiddenInput, validators=[desk_token])
    text_receipt = forms.BooleanField(label="Text the receipt", required=False)
    email_receipt = forms.BooleanField(label="Email the receipt", required=False)


def item_label(item: CatalogItem) -> str:
    """How the checkout names a catalog item: "Botox · Injectables · $120.00"."""
    return f"{item.name} · {item.category} · {money(item.price_cents)}"


# A typed item name matching more items than this lists the first ones and asks for more of the name.
NAMES_IN_AMBIGUITY = 4


class CheckoutLineForm(forms.Form):
    """One line of the checkout. The item is found by typing (`item_search`): the suggestions fill in its id
    (`item`), and without JavaScript the typed name itself is looked up when the form is sent."""

    item = forms.ModelChoiceField(
        required=False,
        queryset=CatalogItem.objects.filter(is_active=True),
        widget=forms.HiddenInput,
        error_messages={"invalid_choice": "This item is no longer in the catalog; choose another."},
    )
    item_search = forms.CharField(
        label="Item",
        required=False,
        max_length=200,
        help_text="Type a few letters of the name or the category.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "class": "item-search"}),
    )
    quantity = forms.IntegerField(label="Quantity", min_value=1, max_value=999, initial=1, required=False)
    price = DollarsField(label="Unit price", required=False, help_text="Empty: the item's price.")
    name = forms.CharField(label="Name (not in the catalog)", required=False, max_length=120)
    category = forms.CharField(label="Category", required=False, max_length=60)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        item = self._chosen_item(data.get("item"), (data.get("item_search") or "").strip())
        if self.errors:
            return data
        name = (data.get("name") or "").strip()
        if item is None and not name:
            if data.get("price") is not None or data.get("category"):
                raise forms.ValidationError("Choose a catalog item or type a name for this line.")
            data["line"] = None  # an empty row
            return data
        if item is None and data.get("price") is None:
            self.add_error("price", "Enter the price of an item that isn't in the catalog.")
            return data
        price = data["price"] if data.get("price") is not None else item.price_cents
        data["item"] = item
        data["line"] = LineIn(
            quantity=data.get("quantity") or 1,
            unit_price_cents=price,
            item=item,
            name="" if item else name,
            category="" if item else (data.get("category") or "").strip(),
        )
        return data

    def _chosen_item(self, item: CatalogItem | None, text: str) -> CatalogItem | None:
        """The item picked from the suggestions, unless the text was changed since; else the one the text names."""
        if item is not None and (not text or text.lower() in (item_label(item).lower(), item.name.lower())):
            return item
        if not text:
            return None
        # The whole name, or the whole label the suggestions show ("Botox · Injectables · $120.00").
        same_name = CatalogItem.objects.filter(is_active=True, name__iexact=text.split(" · ")[0])
        exact = [found for found in same_name if text.lower() in (found.name.lower(), item_label(found).lower())]
        if len(exact) == 1:
            return exact[0]
        matches = list(catalog_items(query=text, status="active")[: NAMES_IN_AMBIGUITY + 1])
        if len(matches) == 1:
            return matches[0]
        if not matches:
            self.add_error(
                "item_search",
                f"No catalog item matches “{text}”. Check the spelling, or fill in “Not in the catalog” "
                "with a name and a price.",
            )
        else:
            names = ", ".join(item_label(found) for found in matches[:NAMES_IN_AMBIGUITY])
            more = " and more" if len(matches) > NAMES_IN_AMBIGUITY else ""
            self.add_error("item_search", f"“{text}” matches {names}{more}: type more of the name.")
        return None


class BaseLineFormSet(forms.BaseFormSet):
    def clean(self):
        if any(self.errors):
            return
        if not self.lines():
            raise forms.ValidationError("Add at least one item to check out.")

    def lines(self) -> list[LineIn]:
        return [form.cleaned_data["line"] for form in self.forms if form.cleaned_data.get("line")]


# One line to start; more on demand ("Add a line").
CheckoutLineFormSet = forms.formset_factory(
    CheckoutLineForm, formset=BaseLineFormSet, extra=1, max_num=MAX_CHECKOUT_LINES, validate_max=True
)


class RefundForm(forms.Form):
    everything = forms.BooleanField(label="Refund everything not refunded yet", required=False)
    reason = forms.CharField(label="Reason (optional)", required=False, max_length=300)
    token = forms.CharField(widget=forms.HiddenInput, validators=[desk_token])

    def __init__(self, *args, lines, **kwargs):
        super().__init__(*args, **kwargs)
        self.line_fields = []
        for line in lines:
            left = line.quantity - line.refunded_quantity
            if left < 1:
                continue
            name = f"line_{line.pk}"
            self.fields[name] = forms.IntegerField(
                label=f"{line.name}: quantity to refund ({left} of {line.quantity} left)",
                min_value=0,
                max_value=left,
                required=False,
                initial=0,
            )
            self.line_fields.append((self[name], line))

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        if data.get("everything"):
            data["lines"] = None
            return data
        chosen = [(line.pk, data.get(bound.name) or 0) for bound, line in self.line_fields]
        data["lines"] = [(pk, quantity) for pk, quantity in chosen if quantity > 0]
        if not data["lines"]:
            raise forms.ValidationError("Choose what to refund: a quantity on a line, or everything.")
        return data
