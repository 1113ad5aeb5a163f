"""Staff pages of the referral program."""


def patient_panel_context(request, patient) -> dict:
    return {}
