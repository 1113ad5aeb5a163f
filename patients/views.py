"""Patient pages: join, sign in, home, profile. (Inbox: views_notifications; staff CRM: views_staff.)"""

from allauth.account.internal import flows
from allauth.account.internal.flows.phone_verification import PhoneVerificationStageProcess
from allauth.account.internal.stagekit import clear_login
from allauth.account.models import EmailAddress
from allauth.account.stages import LoginStageController, PhoneVerificationStage
from allauth.account.views import (
    ConfirmEmailView,
    ConfirmLoginCodeView,
    RequestLoginCodeView,
    SignupView,
    _VerifyPhoneSignupView,
)
from allauth.core.exceptions import RateLimited
from django.contrib import messages
from django.db import transaction
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.generic.edit import FormView

from practices.brand_images import link_preview
from practices.selectors import current_practice

from . import ratelimits
from .access import patient_required
from .errors import PatientError
from .forms import FinishJoinForm, ProfileForm, sms_consent_wording
from .services import complete_join, request_email_change, update_profile
from .signup import JoinForm, RequestCodeForm, code_can_be_sent
from .staff_sections import patient_home_panels

TOO_MANY_WRONG_CODES = "That code was wrong too many times, so it no longer works. We can text you a new one."
SIGN_IN_CODE_EXPIRED = "That code is no longer valid (codes last 10 minutes). Request a new one."
EMAIL_LINK_SENT = "We've emailed a link to {email}: open it to start using this address."
SIGNUP_CODE_GONE = (
    "That code no longer works: it expired, was wrong too many times, or you started joining again. "
    "Fill in the form again and we'll text you a new code."
)


def _is_patient(user) -> bool:
    return user.is_authenticated and hasattr(user, "patient")


class JoinView(SignupView):
    """`/join/` (and `/join/?code=...`): phone, profile and consent; a code is then sent by SMS.

    Nothing but a pending sign-up is saved until the code is entered (patients.signup.JoinForm).
    """

    template_name = "patients/join.html"
    form_class = JoinForm

    def dispatch(self, request, *args, **kwargs):
        if _is_patient(request.user):
            return redirect("/")
        return super().dispatch(request, *args, **kwargs)

    def get_initial(self):
        initial = super().get_initial()
        initial["code"] = self.request.GET.get("code", "")
        initial["source"] = self.request.GET.get("src", "")
        return initial

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        practice = current_practice()
        context["preview"] = link_preview(
            practice,
            title=f"Join {practice.name} rewards",
            description="Earn points every time you visit and turn them into treatments and products. "
            "Joining is free and takes a minute.",
            path=reverse("account_signup"),
        )
        return context

    def post(self, request, *args, **kwargs):
        # A number the practice already knows signs in (a code is sent) instead of joining twice. (A number
        # with only a pending sign-up is not known: joining again restarts its verification.)
        known = RequestCodeForm(data={"phone": request.POST.get("phone", "")})
        if known.is_valid() and known._user is not None:
            flows.login_by_code.LoginCodeVerificationProcess.initiate(
                request=request, user=known._user, phone=known.cleaned_data["phone"]
            )
            messages.info(request, "You're already a member. We've texted you a code to sign in.")
            return redirect("account_confirm_login_code")
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        phone = form.cleaned_data["phone"]
        if not code_can_be_sent(self.request, phone):
            return ratelimits.too_many_requests(self.request, action="verify_phone", key=phone)
        try:
            # All or nothing: a limit met while texting the code leaves no sign-up behind.
            with transaction.atomic():
                return super().form_valid(form)
        except RateLimited:
            clear_login(self.request)
            return ratelimits.too_many_requests(self.request, action="verify_phone", key=phone)
        except PatientError as exc:
            form.add_error(exc.field, exc.message)
            return self.form_invalid(form)


class VerifyPhoneView(_VerifyPhoneSignupView):
    """`/join/verify/`: the code texted at sign-up; the patient joins once it is entered."""

    template_name = "patients/verify_phone.html"

    def dispatch(self, request, *args, **kwargs):
        stage = LoginStageController.enter(request, PhoneVerificationStage.key)
        if stage is None or stage.login.user is None or PhoneVerificationStageProcess.resume(stage) is None:
            # Expired, ended by wrong codes, replaced by a newer sign-up for the number, or never started.
            if stage is not None:
                clear_login(request)
            messages.error(request, SIGNUP_CODE_GONE)
            return redirect("account_signup")
        return super().dispatch(request, *args, **kwargs)

    def respond_process_failed(self, form):
        messages.error(self.request, SIGNUP_CODE_GONE)
        return HttpResponseRedirect(reverse("account_signup"))


class SignInView(RequestLoginCodeView):
    """`/signin/`: the patient's phone number; a sign-in code is sent by SMS."""

    template_name = "patients/signin.html"
    form_class = RequestCodeForm


class SignInCodeView(ConfirmLoginCodeView):
    """`/signin/code/`: the code texted to sign in. The fifth wrong one ends the attempt and says so."""

    template_name = "patients/signin_code.html"

    def dispatch(self, request, *args, **kwargs):
        response = super().dispatch(request, *args, **kwargs)
        if getattr(self, "_process", False) is None:
            messages.error(request, SIGN_IN_CODE_EXPIRED)
        return response

    def form_invalid(self, form):
        if self._process.record_invalid_attempt():
            return FormView.form_invalid(self, form)
        messages.error(self.request, TOO_MANY_WRONG_CODES)
        return redirect("account_request_login_code")


class PatientConfirmEmailView(ConfirmEmailView):
    """`/email/confirm/<key>/`: the link emailed to a new address; the address is used once confirmed here."""

    template_name = "patients/confirm_email.html"


def home(request):
    """The practice's home: the signed-in patient's page, or the program's welcome for visitors."""
    if _is_patient(request.user):
        return patient_home(request)
    return render(request, "patient/home.html")


@patient_required
def patient_home(request):
    patient = request.user.patient
    return render(
        request,
        "patients/home.html",
        {"patient": patient, "panels": patient_home_panels.render(request, patient)},
    )


@patient_required
def profile(request):
    patient = request.user.patient
    user = patient.user
    if request.method == "POST":
        form = ProfileForm(request.POST, user=user)
        if form.is_valid():
            data = form.cleaned_data
            update_profile(
                patient=patient,
                first_name=data["first_name"],
                last_name=data["last_name"],
                birthday=data["birthday"],
                sms_consent=data["sms_consent"],
                sms_consent_text=sms_consent_wording(),
                notify_by_sms=data["notify_by_sms"],
                notify_by_push=data["notify_by_push"],
            )
            messages.success(request, "Your profile is saved.")
            if request_email_change(request=request, patient=patient, email=data["email"]):
                messages.info(request, EMAIL_LINK_SENT.format(email=data["email"]))
            return redirect(reverse("patients:profile"))
    else:
        form = ProfileForm(
            user=user,
            initial={
                "first_name": user.first_name,
                "last_name": user.last_name,
                "email": user.email or "",
                "birthday": patient.birthday,
                "sms_consent": patient.sms_consent,
                "notify_by_sms": patient.notify_by_sms,
                "notify_by_push": patient.notify_by_push,
            },
        )
    email_to_confirm = EmailAddress.objects.filter(user=user, verified=False).order_by("pk").last()
    return render(
        request,
        "patients/profile.html",
        {"form": form, "patient": patient, "email_to_confirm": email_to_confirm},
    )


@patient_required(allow_unfinished=True)
def finish_join(request):
    """A patient invited at the desk or imported gives their details and accepts the terms once."""
    patient = request.user.patient
    if patient.terms_accepted_at is not None:
        return redirect("/")
    user = patient.user
    form = FinishJoinForm(
        request.POST or None,
        user=user,
        initial={
            "first_name": user.first_name,
            "last_name": user.last_name,
            "email": user.email or "",
            "birthday": patient.birthday,
        },
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        complete_join(
            user=user,
            first_name=data["first_name"],
            last_name=data["last_name"],
            email="",
            birthday=data["birthday"],
            code="",
            arrived_from="",
            sms_consent=data["sms_consent"],
            sms_consent_text=sms_consent_wording(),
        )
        messages.success(request, "Welcome! You're all set.")
        if request_email_change(request=request, patient=patient, email=data["email"]):
            messages.info(request, EMAIL_LINK_SENT.format(email=data["email"]))
        return redirect("/")
    return render(request, "patients/finish_join.html", {"form": form})
