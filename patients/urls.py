"""Patient pages on the practice's host. The allauth names registered here come after allauth's own
URLs (mounted under /staff/ for staff), so allauth's redirects land on the patient pages."""

from django.urls import path

from . import api, api_account, urls_staff, views, views_account

app_name = "patients"

urlpatterns = [
    path("", views.home, name="home"),
    path("join/finish/", views.finish_join, name="finish_join"),
    path("me/", views.profile, name="profile"),
    path("me/phone/", views_account.phone, name="phone"),
    path("me/phone/confirm/", views_account.phone_confirm, name="phone_confirm"),
    path("me/data/", views_account.data_download, name="data_download"),
    path("me/close/", views_account.close, name="close"),
    # The staff portal's patient pages share the "patients" namespace.
    *urls_staff.urlpatterns,
]

# Names allauth reverses in the patient flows (kept un-namespaced for it).
allauth_overrides = [
    path("join/", views.JoinView.as_view(), name="account_signup"),
    path("join/verify/", views.VerifyPhoneView.as_view(), name="account_verify_phone"),
    path("signin/", views.SignInView.as_view(), name="account_request_login_code"),
    path("signin/code/", views.SignInCodeView.as_view(), name="account_confirm_login_code"),
    path("email/confirm/<str:key>/", views.PatientConfirmEmailView.as_view(), name="account_confirm_email"),
]

api_urlpatterns = [
    path("me", api.Me.as_view(), name="me"),
    path("me/phone", api_account.MePhone.as_view(), name="me_phone"),
    path("me/phone/confirm", api_account.MePhoneConfirm.as_view(), name="me_phone_confirm"),
    path("me/data", api_account.MeData.as_view(), name="me_data"),
    path("me/close", api_account.MeClose.as_view(), name="me_close"),
]
