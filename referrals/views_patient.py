"""Patient pages of the referral program."""


def home_panel_context(request, patient) -> dict:
    return {}
