"""Staff pages that set up the points program (included by loyalty.urls under the "loyalty" namespace)."""

from django.urls import path

from . import views_admin

urlpatterns = [
    path("staff/catalog/", views_admin.catalog_list, name="catalog_list"),
    path("staff/catalog/new/", views_admin.catalog_edit, name="catalog_add"),
    path("staff/catalog/import/", views_admin.catalog_import_view, name="catalog_import"),
    path("staff/catalog/<int:item_id>/", views_admin.catalog_edit, name="catalog_edit"),
    path("staff/catalog/<int:item_id>/delete/", views_admin.catalog_delete, name="catalog_delete"),
    path("staff/settings/program/", views_admin.program_settings_view, name="program_settings"),
    path("staff/tiers/", views_admin.tier_list, name="tier_list"),
    path("staff/tiers/new/", views_admin.tier_edit, name="tier_add"),
    path("staff/tiers/<int:tier_id>/", views_admin.tier_edit, name="tier_edit"),
    path("staff/tiers/<int:tier_id>/delete/", views_admin.tier_delete, name="tier_delete"),
    path("staff/campaigns/", views_admin.campaign_list, name="campaign_list"),
    path("staff/campaigns/new/", views_admin.campaign_edit, name="campaign_add"),
    path("staff/campaigns/<int:campaign_id>/", views_admin.campaign_edit, name="campaign_edit"),
    path("staff/campaigns/<int:campaign_id>/end/", views_admin.campaign_end, name="campaign_end"),
    path("staff/actions/", views_admin.action_list, name="action_list"),
    path("staff/actions/new/", views_admin.action_edit, name="action_add"),
    path("staff/actions/<int:action_id>/", views_admin.action_edit, name="action_edit"),
    path("staff/adjustments/", views_admin.adjustment_list, name="adjustment_list"),
    path("staff/patients/<int:patient_id>/points/adjust/", views_admin.patient_adjust, name="patient_adjust"),
]
