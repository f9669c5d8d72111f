"""Cradle's own OpenAPI schema, fuzzed by schemathesis: no request, however odd, gets a 5xx,
and every documented response matches the schema. Bounded in examples per operation."""

from __future__ import annotations

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from server.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


@pytest.fixture
def admin_token(db) -> str:
    user = get_user_model().objects.create_superuser("fuzz-admin", password="fuzz-pass-2026")
    return Token.objects.create(user=user).key


@pytest.mark.django_db(transaction=False)
@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_never_answers_5xx_and_matches_its_schema(case, cradle_couch, admin_token) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Token {admin_token}"},
        checks=[not_a_server_error, response_schema_conformance],
    )
