"""Patient pages: join, sign in, home, profile. (Inbox: views_notifications; staff CRM: views_staff.)"""

from allauth.account.forms import RequestLoginCodeForm
from allauth.account.internal import flows
from allauth.account.views import (
    ConfirmLoginCodeView,
    RequestLoginCodeView,
    SignupView,
    _VerifyPhoneSignupView,
)
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse

from .access import patient_required
from .forms import FinishJoinForm, ProfileForm, sms_consent_wording
from .services import complete_join, update_profile
from .staff_sections import patient_home_panels


def _is_patient(user) -> bool:
    return user.is_authenticated and hasattr(user, "patient")


class JoinView(SignupView):
    """`/join/` (and `/join/?code=...`): phone, profile and consent; a code is then sent by SMS."""

    template_name = "patients/join.html"

    def dispatch(self, request, *args, **kwargs):
        if _is_patient(request.user):
            return redirect("/")
        return super().dispatch(request, *args, **kwargs)

    def get_initial(self):
        initial = super().get_initial()
        initial["code"] = self.request.GET.get("code", "")
        initial["source"] = self.request.GET.get("src", "")
        return initial

    def post(self, request, *args, **kwargs):
        # A number the practice already knows signs in (a code is sent) instead of joining twice.
        known = RequestLoginCodeForm(data={"phone": request.POST.get("phone", "")})
        if known.is_valid() and getattr(known, "_user", None) is not None:
            flows.login_by_code.LoginCodeVerificationProcess.initiate(
                request=request, user=known._user, phone=known.cleaned_data["phone"]
            )
            messages.info(request, "You're already a member. We've texted you a code to sign in.")
            return redirect("account_confirm_login_code")
        return super().post(request, *args, **kwargs)


class VerifyPhoneView(_VerifyPhoneSignupView):
    template_name = "patients/verify_phone.html"


class SignInView(RequestLoginCodeView):
    """`/signin/`: the patient's phone number; a sign-in code is sent by SMS."""

    template_name = "patients/signin.html"


class SignInCodeView(ConfirmLoginCodeView):
    template_name = "patients/signin_code.html"


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
                email=data["email"],
                birthday=data["birthday"],
                sms_consent=data["sms_consent"],
                sms_consent_text=sms_consent_wording(),
                notify_by_sms=data["notify_by_sms"],
                notify_by_push=data["notify_by_push"],
            )
            messages.success(request, "Your profile is saved.")
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
    return render(request, "patients/profile.html", {"form": form, "patient": patient})


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
            email=data["email"],
            birthday=data["birthday"],
            code="",
            arrived_from="",
            sms_consent=data["sms_consent"],
            sms_consent_text=sms_consent_wording(),
        )
        messages.success(request, "Welcome! You're all set.")
        return redirect("/")
    return render(request, "patients/finish_join.html", {"form": form})
