"""URLs of this part of the patients app (included by config.urls_practice): the staff portal's patient pages."""

from django.urls import path

from . import views_staff, views_staff_records

app_name = "patients"

urlpatterns = [
    path("staff/patients/", views_staff.patient_list, name="staff_patient_list"),
    path("staff/patients/new/", views_staff.patient_add, name="staff_patient_add"),
    path("staff/patients/<int:patient_id>/", views_staff.patient_detail, name="staff_patient_detail"),
    path("staff/patients/<int:patient_id>/notes/", views_staff.patient_note, name="staff_patient_note"),
    path("staff/patients/<int:patient_id>/edit/", views_staff_records.patient_edit, name="staff_patient_edit"),
    path("staff/patients/<int:patient_id>/phone/", views_staff_records.patient_phone, name="staff_patient_phone"),
    path(
        "staff/patients/<int:patient_id>/phone/confirm/",
        views_staff_records.patient_phone_confirm,
        name="staff_patient_phone_confirm",
    ),
    path("staff/patients/<int:patient_id>/merge/", views_staff_records.patient_merge, name="staff_patient_merge"),
    path(
        "staff/patients/<int:patient_id>/merge/<int:other_id>/",
        views_staff_records.patient_merge_confirm,
        name="staff_patient_merge_confirm",
    ),
    path("staff/patients/import/", views_staff.import_upload, name="staff_import"),
    path("staff/patients/import/<int:import_id>/", views_staff.import_status, name="staff_import_status"),
    path(
        "staff/patients/import/<int:import_id>/progress/",
        views_staff.import_progress,
        name="staff_import_progress",
    ),
]
