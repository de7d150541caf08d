"""Schema-driven and property-based fuzzing of the API and the web page over real HTTP: whatever
the input, no 5xx, every answer as documented in the checked-in OpenAPI spec (status codes,
content types, response schemas), and input that breaks the spec rejected with a 4xx.

The server has a token configured that the fuzzer does not know, so write endpoints are fuzzed
up to authentication and never change the shared demo index.
"""

from __future__ import annotations

import string
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings, strategies as st
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from test_api import TOKEN, LiveServer, demo_hub_home, hub_settings

SPEC = Path(__file__).resolve().parents[1] / "docs" / "openapi.json"
schema = schemathesis.openapi.from_path(SPEC)  # equal to the served spec (tests/test_api.py checks that)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_rejection]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    from api import create_app

    home = demo_hub_home(tmp_path_factory)
    with LiveServer(create_app(hub_settings(home), api_token=TOKEN, protect_reads=False)) as server:
        yield server


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented_and_never_5xx(case, live):
    case.call_and_validate(base_url=live.url, checks=CHECKS)


FORM_KEYS = ["q", "mode", "sort", "theme", "policy_area", "evidence_type", "publisher", "source", "doc_type",
             "language", "year_from", "year_to", "cursor", "offset"]
values = st.one_of(st.text(max_size=40), st.sampled_from(["bm25", "semantic", "hybrid", "date", "P2", "T8", "2024",
                                                          "-1", "0", "99999999999", "<script>alert(1)</script>"]))


@given(params=st.dictionaries(st.sampled_from(FORM_KEYS + ["unknown"]), values, max_size=6))
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_web_page_never_fails_and_escapes_what_it_echoes(live, params):
    response = httpx.get(live.url + "/", params=params, timeout=120)
    assert response.status_code in (200, 422), response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    assert "<script>alert(1)</script>" not in response.text
    if response.status_code == 422:
        assert 'role="alert"' in response.text


@given(doc_id=st.text(alphabet=string.printable, min_size=1, max_size=60).filter(lambda s: "/" not in s))
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_document_page_of_any_id_is_a_page_or_a_404(live, doc_id):
    response = httpx.get(live.url + "/doc/" + quote(doc_id, safe=""), timeout=60)
    assert response.status_code in (200, 404), response.status_code
