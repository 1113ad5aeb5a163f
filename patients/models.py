from django.conf import settings
from django.db import models

from practices.formatting import format_phone
from practices.private_files import private_name, private_storage


class Patient(models.Model):
    """A patient of the practice: the loyalty profile attached to a user who signs in by phone.

    The phone number (E.164), names and email live on the user; what the program needs lives here.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Invited (not joined yet)"
        ACTIVE = "active", "Active"
        ARCHIVED = "archived", "Archived"

    class Source(models.TextChoices):
        QR = "qr", "Practice QR code"
        INVITE_CODE = "invite_code", "Practice invite code"
        REFERRAL = "referral", "Referral code"
        DESK = "desk", "Added at the desk"
        IMPORT = "import", "Imported"
        APP = "app", "Mobile app"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="patient")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.QR)
    # The code typed or scanned at sign-up (practice invite code or a referral code), as entered.
    signup_code = models.CharField(max_length=32, blank=True)
    birthday = models.DateField(null=True, blank=True)
    terms_accepted_at = models.DateTimeField(null=True, blank=True)
    # Marketing SMS only with consent; the wording shown is kept with the time it was given.
    sms_consent = models.BooleanField(default=False)
    sms_consent_at = models.DateTimeField(null=True, blank=True)
    sms_consent_text = models.TextField(blank=True)
    # Set by an inbound STOP; cleared by START. Honoured for every marketing message.
    sms_opted_out_at = models.DateTimeField(null=True, blank=True)
    # Channel preferences (the notify service combines them with consent).
    notify_by_sms = models.BooleanField(default=True)
    notify_by_push = models.BooleanField(default=True)
    external_id = models.CharField(max_length=64, blank=True, help_text="The patient's id in the practice's system.")
    # The staff's standing note for the loyalty program (preferences, how to reach them): no medical details.
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    joined_at = models.DateTimeField(null=True, blank=True)
    # Archived records: folded into another one by a merge (patients.merging), or closed by the patient
    # (patients.closing, personal data erased). Neither signs in again.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_records"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "-created_at"]), models.Index(fields=["signup_code"])]

    def __str__(self) -> str:
        return self.full_name or format_phone(self.phone) or f"Patient {self.pk}"

    @property
    def full_name(self) -> str:
        return self.user.get_full_name()

    @property
    def phone(self) -> str:
        return self.user.phone or ""

    @property
    def can_receive_marketing_sms(self) -> bool:
        return self.sms_consent and self.sms_opted_out_at is None and bool(self.user.phone)


class Activity(models.Model):
    """One line of a patient's timeline (the CRM): what happened, when, and who did it."""

    class Kind(models.TextChoices):
        JOINED = "joined", "Joined"
        INVITED = "invited", "Invited"
        IMPORTED = "imported", "Imported"
        CODE_USED = "code_used", "Code used"
        SIGNED_IN = "signed_in", "Signed in"
        PROFILE_UPDATED = "profile_updated", "Profile updated"
        CONSENT_CHANGED = "consent_changed", "SMS consent changed"
        POINTS_EARNED = "points_earned", "Points earned"
        POINTS_ADJUSTED = "points_adjusted", "Points adjusted"
        POINTS_EXPIRED = "points_expired", "Points expired"
        PURCHASE = "purchase", "Purchase"
        REFUND = "refund", "Refund"
        BONUS = "bonus", "Bonus"
        TIER_CHANGED = "tier_changed", "Tier changed"
        REWARD_REDEEMED = "reward_redeemed", "Reward redeemed"
        VOUCHER_USED = "voucher_used", "Voucher used"
        VOUCHER_CANCELLED = "voucher_cancelled", "Voucher cancelled"
        REFERRAL = "referral", "Referral"
        REFERRAL_CREDITED = "referral_credited", "Referral credited"
        MESSAGE_SENT = "message_sent", "Message sent"
        NOTE = "note", "Staff note"
        PHONE_CHANGED = "phone_changed", "Phone number changed"
        MERGED = "merged", "Records merged"
        ACCOUNT_CLOSED = "account_closed", "Account closed"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="activities")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    summary = models.CharField(max_length=300)
    data = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["patient", "-created_at"]), models.Index(fields=["kind", "-created_at"])]
        verbose_name_plural = "activities"

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.summary}"


class Message(models.Model):
    """Every SMS the practice sends (or declined to send), with its delivery status."""

    class Purpose(models.TextChoices):
        LOGIN_CODE = "login_code", "Sign-in code"
        INVITE = "invite", "Invitation"
        TRANSACTIONAL = "transactional", "Account notice"
        MARKETING = "marketing", "Marketing"
        REPLY = "reply", "Reply (STOP/START/HELP)"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        WAITING = "waiting", "Waiting for quiet hours to end"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"
        UNDELIVERED = "undelivered", "Undelivered"
        SUPPRESSED = "suppressed", "Not sent (no consent or opted out)"

    patient = models.ForeignKey(Patient, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")
    to = models.CharField(max_length=20)
    body = models.TextField()
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    provider_id = models.CharField(max_length=64, blank=True, db_index=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    send_after = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "send_after"])]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} to {self.to} ({self.status})"


class Notification(models.Model):
    """An item in the patient's in-app inbox."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="notifications")
    title = models.CharField(max_length=120)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=300, blank=True)
    is_marketing = models.BooleanField(default=False)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["patient", "read_at"])]

    def __str__(self) -> str:
        return self.title


class PushSubscription(models.Model):
    """A browser's web-push subscription for the installed patient web app."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="push_subscriptions")
    endpoint = models.URLField(max_length=500, unique=True)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.endpoint[:60]


def import_file_name(instance: "PatientImport", filename: str) -> str:
    return private_name("imports/patients", ".csv")


class PatientImport(models.Model):
    """A CSV import of existing patients, processed in the background with a row-by-row report."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    # Private (never served, outside MEDIA_ROOT) under a made-up name; emptied once the import has finished.
    file = models.FileField(upload_to=import_file_name, storage=private_storage, max_length=255, blank=True)
    filename = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    # [{"row": 3, "errors": ["..."]}, ...]: the rows that were not imported and why.
    errors = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.status})"


class PendingSignup(models.Model):
    """A sign-up waiting for its SMS code: the join form's answers, kept apart from patients.

    allauth's phone verification is a stage of signing in a user, so a sign-up makes a user to send the code
    to: an *inactive* one holding only the phone number (nothing signs it in, finds it by phone or email, or
    lists it). No patient exists until the code is confirmed (`patients.services.confirm_signup`): then the
    user becomes active, the patient is created with these answers, the terms and SMS consent are recorded
    and the join is announced (the referral counts from then on). A second sign-up with the same number
    replaces this one; the daily job removes those older than a day, with their user.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pending_signup")
    first_name = models.CharField(max_length=150)
    last_name = models.CharField(max_length=150)
    email = models.EmailField(blank=True)
    birthday = models.DateField()
    # The invite or referral code typed or scanned, as entered; the page the patient came from (qr, app...).
    code = models.CharField(max_length=32, blank=True)
    arrived_from = models.CharField(max_length=12, blank=True)
    sms_consent = models.BooleanField(default=False)
    # The wording shown next to the checkbox, recorded with the answer once the number is confirmed.
    sms_consent_text = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"Sign-up waiting for its code ({self.created_at:%Y-%m-%d %H:%M})"


class PatientMerge(models.Model):
    """Two records of one person made one (patients.merging): `merged` was folded into `kept`.

    `merged` is unique, so a record is merged once, whatever two requests try at the same moment.
    """

    kept = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="merges")
    merged = models.OneToOneField(Patient, on_delete=models.PROTECT, related_name="merge")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    # Who the merged record was (name, phone, email): its account gives them up so they can be used again.
    # Erased when either patient closes their account.
    merged_details = models.JSONField(default=dict, blank=True)
    # What moved, for the timeline and the audit trail: {"points": 1200, "purchases": 3, ...}.
    moved = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Patient {self.merged_id} merged into {self.kept_id}"


class PhoneChange(models.Model):
    """A new mobile number waiting for the code texted to it (patients.phone_change); the number in use
    changes only once the code is entered. One at a time per patient: a new request replaces it.

    `state` is allauth's code-verification state (the code, when it was sent, wrong attempts), kept here
    rather than in a session because staff at the desk enter the code the patient reads out.
    """

    patient = models.OneToOneField(Patient, on_delete=models.CASCADE, related_name="phone_change")
    phone = models.CharField(max_length=20)
    state = models.JSONField(default=dict)
    # The staff member who asked for it; empty when the patient did.
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Phone change for patient {self.patient_id}"
