"""Staff pages of the rewards app (included by rewards.urls under the "rewards" namespace)."""

from django.urls import path

from . import views_staff

urlpatterns = [
    path("staff/rewards/", views_staff.reward_list, name="staff_reward_list"),
    path("staff/rewards/new/", views_staff.reward_edit, name="reward_add"),
    path("staff/rewards/<int:reward_id>/", views_staff.reward_edit, name="reward_edit"),
    path("staff/rewards/<int:reward_id>/move/", views_staff.reward_move, name="reward_move"),
    path("staff/rewards/<int:reward_id>/active/", views_staff.reward_toggle, name="reward_toggle"),
    path("staff/rewards/<int:reward_id>/delete/", views_staff.reward_delete, name="reward_delete"),
    path("staff/rewards/settings/", views_staff.reward_settings_page, name="reward_settings"),
    path("staff/vouchers/", views_staff.voucher_redeem, name="voucher_redeem"),
    path("staff/vouchers/list/", views_staff.voucher_list, name="voucher_list"),
    path("staff/vouchers/<int:redemption_id>/cancel/", views_staff.voucher_cancel, name="voucher_cancel"),
    path("staff/patients/<int:patient_id>/redeem/", views_staff.patient_redeem, name="patient_redeem"),
]
