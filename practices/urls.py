from django.urls import path

from . import api, views, views_api_keys, views_audit, views_branding, views_two_factor
from . import views_team as team

app_name = "practices"

urlpatterns = [
    path("staff/", views.staff_dashboard, name="staff_dashboard"),
    path("staff/settings/api-keys/", views_api_keys.api_keys, name="api_keys"),
    path("staff/settings/api-keys/<int:key_id>/revoke/", views_api_keys.api_key_revoke, name="api_key_revoke"),
    path("staff/settings/security/", views_two_factor.security_settings, name="security_settings"),
    path("staff/audit/", views_audit.audit_trail, name="audit_trail"),
    path("staff/settings/branding/", views_branding.branding_settings, name="branding"),
    path("staff/settings/branding/texts/", views_branding.program_texts_settings, name="program_texts"),
    # Public pages of the practice's host: the program's terms and privacy notice, the app's icons.
    path("terms/", views_branding.terms, name="terms"),
    path("privacy/", views_branding.privacy, name="privacy"),
    path("icons/<slug:name>.png", views_branding.brand_picture_view, name="brand_picture"),
    path(
        "staff/settings/security/staff/<int:member_id>/reset/",
        views_two_factor.reset_member_two_factor,
        name="two_factor_reset",
    ),
    # The owner's team, and the page an emailed invitation opens (for anyone holding the link).
    path("staff/team/", team.team_page, name="team"),
    path("staff/team/invite/", team.invite, name="team_invite"),
    path("staff/team/invites/<int:invite_id>/resend/", team.invite_resend, name="invite_resend"),
    path("staff/team/invites/<int:invite_id>/withdraw/", team.invite_revoke, name="invite_revoke"),
    path("staff/team/members/<int:member_id>/", team.member_page, name="team_member"),
    path("staff/team/members/<int:member_id>/deactivate/", team.member_deactivate, name="team_member_deactivate"),
    path("staff/team/members/<int:member_id>/reactivate/", team.member_reactivate, name="team_member_reactivate"),
    path("staff/invite/<str:token>/", team.invite_accept, name="invite_accept"),
]

api_urlpatterns = [
    path("", api.ApiRoot.as_view(), name="api_root"),
    path("practice", api.CurrentPractice.as_view(), name="api_practice"),
]
