"""Staff pages of the referral program (included by referrals.urls under the "referrals" namespace)."""

from django.urls import path

from . import views_staff, views_tv

urlpatterns = [
    path("staff/referrals/", views_staff.overview, name="staff_overview"),
    path("staff/referrals/settings/", views_staff.program_settings, name="settings"),
    path("staff/referrals/settings/milestones/new/", views_staff.milestone_add, name="milestone_add"),
    path("staff/referrals/settings/milestones/<int:milestone_id>/", views_staff.milestone_edit, name="milestone_edit"),
    path(
        "staff/referrals/settings/milestones/<int:milestone_id>/delete/",
        views_staff.milestone_delete,
        name="milestone_delete",
    ),
    path("staff/referrals/partners/", views_staff.partner_list, name="partner_list"),
    path("staff/referrals/partners/new/", views_staff.partner_edit, name="partner_add"),
    path("staff/referrals/partners/<int:partner_id>/", views_staff.partner_edit, name="partner_edit"),
    path("staff/referrals/partners/<int:partner_id>/active/", views_staff.partner_toggle, name="partner_toggle"),
    path("staff/referrals/leaderboard/", views_staff.leaderboard, name="leaderboard"),
    path("staff/referrals/leaderboard/board/", views_staff.leaderboard_board, name="leaderboard_board"),
    path("staff/referrals/leaderboard/tv-link/", views_tv.tv_link, name="tv_link"),
    path("staff/referrals/qr/", views_staff.qr_index, name="qr_index"),
    # The practice's own QR code first: "practice" is not a code (codes are capitals).
    path("staff/referrals/qr/practice.png", views_staff.practice_qr_png, name="practice_qr_png"),
    path("staff/referrals/qr/practice.svg", views_staff.practice_qr_svg, name="practice_qr_svg"),
    path("staff/referrals/qr/practice/poster/", views_staff.practice_poster, name="practice_poster"),
    path("staff/referrals/qr/<slug:code>.png", views_staff.code_qr_png, name="code_qr_png"),
    path("staff/referrals/qr/<slug:code>.svg", views_staff.code_qr_svg, name="code_qr_svg"),
    path("staff/referrals/qr/<slug:code>/poster/", views_staff.code_poster, name="code_poster"),
    path("staff/referrals/patients/<int:patient_id>/escalate/", views_staff.patient_escalate, name="patient_escalate"),
]
