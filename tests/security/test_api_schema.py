"""Schemathesis over the practice API's own OpenAPI schema (/api/schema/): generated requests, valid and not,
with a patient's session token and with a POS key. No answer is a server error, and every answer is one the
schema documents (its status, content type and body).

The API runs in this process through its WSGI application (as under gunicorn), inside the test's transaction:
Django's per-request connection handling is switched off for it, as Django's own test client does.
"""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from django.contrib.auth import login
from django.contrib.sessions.backends.db import SessionStore
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import RequestFactory
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from practices import audit
from practices.api_keys import create_api_key
from tests.conftest import host_of
from tests.factories import CatalogItemFactory, PatientFactory, RewardFactory

BASE_URL = f"http://{host_of('alpha')}"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Bounded: a few examples per operation keeps the whole walk to seconds; a failing example is shrunk.
SETTINGS = hypothesis.settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(hypothesis.HealthCheck),
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate, hypothesis.Phase.shrink],
)


@pytest.fixture
def in_this_transaction():
    """The WSGI handler closes the connection around each request unless told not to (Django's test client
    does the same); here it must keep the test's transaction open."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def api_world(alpha, in_this_transaction):
    # Something for the generated requests to find: a catalog item, a reward.
    CatalogItemFactory(external_id="SKU-1")
    RewardFactory(points_cost=1)


def patient_token(user) -> str:
    """A session token as the mobile app holds after signing in (allauth headless keys sessions by it)."""
    request = RequestFactory().get("/", HTTP_HOST=host_of("alpha"))
    request.session = SessionStore()
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    request.session.save()
    return request.session.session_key


@pytest.fixture
def patient_headers(api_world):
    return {"X-Session-Token": patient_token(PatientFactory().user)}


@pytest.fixture
def pos_headers(api_world):
    _, raw_key = create_api_key(name="POS", actor=audit.System("test setup"))
    return {"Authorization": f"Bearer {raw_key}"}


def _practice_api_schema() -> dict:
    """The schema /api/schema/ serves on a practice's host, built the same way (no request, no database)."""
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator(urlconf="config.urls_practice").get_schema(request=None, public=True)


schema = schemathesis.openapi.from_dict(_practice_api_schema())
schema.app = application  # requests go to the WSGI application in this process


@schema.exclude(path_regex=r"/pos/").parametrize()
@SETTINGS
def test_the_patient_api_answers_as_documented(case, patient_headers):
    case.call_and_validate(base_url=BASE_URL, headers=patient_headers, checks=CHECKS)


@schema.include(path_regex=r"/pos/").parametrize()
@SETTINGS
def test_the_pos_api_answers_as_documented(case, pos_headers):
    case.call_and_validate(base_url=BASE_URL, headers=pos_headers, checks=CHECKS)
