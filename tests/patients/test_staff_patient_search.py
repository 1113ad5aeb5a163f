"""The staff patient list finds patients as the search is typed: the page asks itself again (htmx) and swaps in
its results, and the address follows so the search can be shared or reloaded; without JavaScript it is a form."""

import re

from practices.models import StaffMember
from tests.factories import PatientFactory, sign_in_staff


def test_typing_in_the_search_swaps_the_results_in_place(alpha, alpha_client):
    sign_in_staff(alpha_client, StaffMember.Role.FRONT_DESK)
    ada = PatientFactory(user__first_name="Ada", user__last_name="Lovelace", user__phone="+16285550107")
    PatientFactory(user__first_name="Grace", user__last_name="Hopper")

    page = alpha_client.get("/staff/patients/", {"q": "lov"}, HTTP_HX_REQUEST="true").content.decode()

    search = re.search(r'<input type="search" name="q"[^>]*>', page).group(0)
    assert 'hx-get="/staff/patients/"' in search and 'hx-select="#patient-results"' in search
    assert 'hx-push-url="true"' in search and 'hx-trigger="input changed delay:250ms, search"' in search
    results = page[page.index('<div id="patient-results"') :]
    assert f'href="/staff/patients/{ada.pk}/">Ada Lovelace</a>' in results and "(628) 555-0107" in results
    assert "Grace" not in results
    assert "1 patient matching “lov”" in results
