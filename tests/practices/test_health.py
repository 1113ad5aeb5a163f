from django.test import Client


def test_healthz_reports_database_and_queue(public_client):
    response = public_client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == {"ok": True}
    assert body["queue"]["ok"] is True
    assert body["queue"]["broker"] == "ORM"


def test_healthz_answers_on_practice_hosts_and_bare_addresses(alpha_client, db):
    assert alpha_client.get("/healthz").json()["status"] == "ok"
    assert Client(HTTP_HOST="127.0.0.1").get("/healthz").status_code == 200


def test_healthz_is_503_when_the_queue_broker_is_down(public_client, monkeypatch):
    from django_q.brokers.orm import ORM

    monkeypatch.setattr(ORM, "ping", lambda self: False)
    response = public_client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["queue"] == {"ok": False, "error": "broker did not answer"}
