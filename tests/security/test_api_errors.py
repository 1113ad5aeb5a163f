"""Requests refused before any view are answered in the API's error shape under /api/ (HTML elsewhere)."""

from tests.factories import PatientFactory


def test_a_nul_byte_in_an_api_query_is_a_json_400(alpha_client):
    response = alpha_client.get("/api/v1/pos/patients", {"phone": "555\x00"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_a_nul_byte_in_a_page_query_is_a_plain_400(alpha_client):
    response = alpha_client.get("/staff/patients/", {"q": "a\x00"})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


def test_too_many_fields_is_a_json_400_on_the_api(alpha, alpha_client):
    alpha_client.force_login(PatientFactory().user)
    body = "&".join(f"ids={n}" for n in range(1_500))
    response = alpha_client.post("/api/v1/notifications/read", body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert response.json() == {
        "error": {"code": "bad_request", "message": "The request could not be read.", "fields": {}}
    }


def test_the_schema_documents_the_error_answers(alpha_client):
    schema = alpha_client.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/me"]["get"]
    assert {"400", "401", "403", "404", "429"} <= set(operation["responses"])
    assert operation["responses"]["401"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert "415" in schema["paths"]["/api/v1/me"]["patch"]["responses"]
