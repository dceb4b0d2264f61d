"""Every API path answers OPTIONS (DRF's metadata) without a server error, as a client probing
the API would ask (schemathesis does): an action taking a body but naming no object once made
DRF look for one (`/api/v1/notifications/preferences/`)."""

from __future__ import annotations

import re

from drf_spectacular.generators import SchemaGenerator

from tests.scenarios import api_for


def test_every_api_path_answers_options_without_a_server_error(rep, account, deal) -> None:
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    client = api_for(rep)
    failures = []
    for template in paths:
        path = re.sub(r"\{[^}]+\}", str(account.pk), template)
        response = client.options(path)
        if response.status_code >= 500:
            failures.append((path, response.status_code))
    assert failures == []
    assert len(paths) > 40


def test_a_too_long_web_address_in_the_duplicates_check_answers_400(rep) -> None:
    response = api_for(rep).get("/api/v1/accounts/duplicates/", {"website": "0" * 400})
    assert response.status_code == 400 and "website" in response.json()
