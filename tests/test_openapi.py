"""The published contract: the OpenAPI document describes what the hub really answers (real answers are
validated against its schemas), declares the bearer scheme (and mutual TLS where the hub serves TLS) and
problem+json errors, lists no 422 the hub never sends, and is valid OpenAPI 3.1 by a validator we did not
write; its docs pages work without internet; schemas and problem types are served."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema_rs
import pytest
import xmlschema
from openapi_spec_validator import validate as validate_openapi

from hub.servers import free_port
from tests.deliverytest import make_config, wait_for
from tests.hubtest import RunningHub, auth, running_hub
from tests.test_intake_api import AGENCY, OTHER_AGENCY, fresh_document, json_example
from tests.test_mutual_tls import client as tls_client
from tests.test_mutual_tls import dev as dev_certificate
from tests.test_mutual_tls import tls_hub

PULLING_AGENCY = OTHER_AGENCY  # receives through its inbox (config/routes.yaml)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    base = tmp_path_factory.mktemp("hub")
    config = make_config(
        base / "config", webhook_base=f"http://127.0.0.1:{free_port()}", agency_retry={"max_attempts": 1}
    )
    with running_hub(base, config_dir=config, workers=1, poll_interval_seconds=0.1) as running:
        yield running


@pytest.fixture(scope="module")
def spec(hub: RunningHub) -> dict[str, Any]:
    answer = hub.client.get("/openapi.json")
    assert answer.status_code == 200
    return answer.json()


# Open to anyone by design: the document types' schemas, the ledger's checkpoints and consistency
# proofs (an outsider holding an earlier checkpoint checks the log with them; docs/ledger.md), and the
# hub's certificates (an outsider checks a receipt with them; docs/api.md).
PUBLIC_PATHS = ("/v1/schemas", "/v1/ledger/checkpoint", "/v1/ledger/consistency", "/v1/hub/")


def check(spec: dict[str, Any], answer: httpx.Response, path: str, method: str = "get") -> None:
    """Validate a real answer against the schema the OpenAPI publishes for its status and media type."""
    responses = spec["paths"][path][method]["responses"]
    status = str(answer.status_code)
    documented = responses.get(status) or responses.get(f"{status[0]}XX")
    assert documented is not None, f"{method.upper()} {path} answered {status}, which it does not document"
    media_type = answer.headers["content-type"].split(";")[0]
    schema = documented["content"][media_type]["schema"]
    validator = jsonschema_rs.validator_for({**schema, "components": spec["components"]})
    errors = [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(answer.json())]
    assert not errors, f"{method.upper()} {path} {status}: {errors}"


def test_the_document_has_response_schemas_the_bearer_scheme_and_problems_and_no_phantom_422(
    spec: dict[str, Any],
) -> None:
    text = json.dumps(spec)
    assert "HTTPValidationError" not in text and '"422"' not in text
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["bearer"]["description"],
    }
    assert "not-ready" in spec["components"]["schemas"]["ProblemDetails"]["properties"]["type"]["description"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            ok = {s: r for s, r in operation["responses"].items() if s.startswith("2")}
            assert ok, where
            for status, response in ok.items():
                assert response.get("content"), f"{where} {status} has no content"
                for media_type, content in response["content"].items():
                    if media_type == "application/json":
                        assert content.get("schema"), f"{where} {status} has no schema"
                        assert content["schema"] != {}, f"{where} {status} is an empty object"
            if path.startswith("/adapters/"):
                continue  # a gateway's callback answers in the gateway's own format
            problem = operation["responses"]["4XX"]["content"]["application/problem+json"]
            assert problem["schema"] == {"$ref": "#/components/schemas/ProblemDetails"}, where
            if path.startswith(PUBLIC_PATHS):  # anyone may fetch the schemas and check the ledger's word
                assert not operation.get("security"), where
            elif path.startswith("/v1/"):
                assert operation.get("security") == [{"bearer": []}], where
                assert "401" in operation["responses"], where
    assert "mutualTLS" not in text, "no mutual TLS door without TLS configured"
    validate_openapi(spec)  # OpenAPI 3.1, by openapi-spec-validator


def participant_operations(spec: dict[str, Any]) -> dict[str, list[dict[str, list[str]]]]:
    """`METHOD path` → security of every operation outside the public ones."""
    return {
        f"{method.upper()} {path}": operation.get("security")
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if path.startswith("/v1/") and not path.startswith(PUBLIC_PATHS)
    }


@pytest.mark.parametrize("required", [False, True], ids=["optional", "required"])
def test_a_hub_serving_tls_declares_mutual_tls_beside_the_bearer_scheme(
    tmp_path_factory: pytest.TempPathFactory, required: bool
) -> None:
    with (
        tls_hub(tmp_path_factory.mktemp("tls"), require_client_certificate=required) as url,
        tls_client(dev_certificate(AGENCY)) as client,
    ):
        spec = client.get(f"{url}/openapi.json").json()
        # what the document promises, the hub does: the certificate alone is enough
        sent = client.post(
            f"{url}/v1/messages", content=fresh_document(), headers={"Content-Type": "application/xml"}
        )
        assert sent.status_code == 202, sent.text
    validate_openapi(spec)
    schemes = spec["components"]["securitySchemes"]
    assert schemes["mutualTLS"]["type"] == "mutualTLS" and schemes["bearer"]["scheme"] == "bearer"
    assert ("a bearer token alone is refused" in schemes["mutualTLS"]["description"]) is required
    expected = (
        [{"mutualTLS": []}, {"mutualTLS": [], "bearer": []}]  # a certificate, with or without a token
        if required
        else [{"bearer": []}, {"mutualTLS": []}]  # either one
    )
    secured = participant_operations(spec)
    assert "POST /v1/messages" in secured and "GET /v1/deliveries" in secured
    assert {where: expected for where in secured} == secured
    public = spec["paths"]["/v1/ledger/checkpoint"]["get"]
    assert not public.get("security")


def test_real_answers_match_the_published_schemas(hub: RunningHub, spec: dict[str, Any]) -> None:
    sent = hub.post(fresh_document(), as_=AGENCY)
    check(spec, sent, "/v1/messages", "post")
    again = hub.post(
        json_example("payment.confirmation", recipients=[PULLING_AGENCY]),
        as_=AGENCY,
        content_type="application/json",
    )
    check(spec, again, "/v1/messages", "post")
    message_id = sent.json()["id"]
    check(spec, hub.get(f"/v1/messages/{message_id}", as_=AGENCY), "/v1/messages/{message_id}")
    refused = hub.post(b"<not-xml", as_=AGENCY)
    assert refused.headers["content-type"].startswith("application/problem+json")
    check(spec, refused, "/v1/messages", "post")
    unauthenticated = hub.client.get(f"/v1/messages/{message_id}")
    assert unauthenticated.status_code == 401
    check(spec, unauthenticated, "/v1/messages/{message_id}")
    malformed = hub.client.get("/v1/deliveries?limit=0", headers=auth("operator"))
    assert malformed.status_code == 400  # never FastAPI's 422
    check(spec, malformed, "/v1/deliveries")

    wait_for(
        lambda: any(
            d["state"] == "dead"
            for d in hub.get(f"/v1/messages/{message_id}", as_=AGENCY).json()["deliveries"]
        ),
        what="the delivery to the unreachable webhook to die",
    )
    listed = hub.client.get("/v1/deliveries?state=dead", headers=auth("operator"))
    check(spec, listed, "/v1/deliveries")
    one = listed.json()["items"][0]["id"]
    check(
        spec,
        hub.client.get(f"/v1/deliveries/{one}", headers=auth("operator")),
        "/v1/deliveries/{delivery_id}",
    )
    inbox = hub.get("/v1/inbox", as_=PULLING_AGENCY)
    check(spec, inbox, "/v1/inbox")
    item = inbox.json()["items"][0]["delivery_id"]
    acked = hub.client.post(f"/v1/inbox/{item}/ack", headers=auth(PULLING_AGENCY))
    check(spec, acked, "/v1/inbox/{delivery_id}/ack", "post")
    key = hub.get(f"/v1/messages/{message_id}", as_=AGENCY).json()["correlation_key"]
    check(spec, hub.get(f"/v1/timeline/{key}", as_=AGENCY), "/v1/timeline/{correlation_key}")
    retried = hub.client.post(
        "/v1/deliveries/retry", json={"state": "dead", "adapter": "agency"}, headers=auth("operator")
    )
    check(spec, retried, "/v1/deliveries/retry", "post")
    check(spec, hub.client.get("/healthz"), "/healthz")
    check(spec, hub.client.get("/readyz"), "/readyz")
    check(spec, hub.client.get("/problems"), "/problems")
    check(spec, hub.client.get("/problems/schema-invalid"), "/problems/{slug}")
    check(spec, hub.client.get("/v1/schemas"), "/v1/schemas")


def test_bulk_retry_sends_again_every_dead_delivery_matching_the_filter(hub: RunningHub) -> None:
    sent = [hub.post(fresh_document(), as_=AGENCY).json()["id"] for _ in range(3)]

    def dead_of_ours() -> list[dict[str, Any]]:
        found = hub.client.get("/v1/deliveries?state=dead&adapter=agency", headers=auth("operator")).json()
        return [d for d in found["items"] if d["message_id"] in sent]

    wait_for(lambda: len(dead_of_ours()) == 3, what="three dead deliveries")
    agent = hub.post(fresh_document(), as_=AGENCY)
    assert agent.status_code == 202
    forbidden = hub.client.post("/v1/deliveries/retry", json={}, headers=auth(AGENCY))
    assert forbidden.status_code == 403
    assert forbidden.json()["type"] == "/problems/forbidden-operator"
    unknown_field = hub.client.post("/v1/deliveries/retry", json={"stat": "dead"}, headers=auth("operator"))
    assert unknown_field.status_code == 400 and unknown_field.json()["type"] == "/problems/invalid-request"
    nothing = hub.client.post(
        "/v1/deliveries/retry", json={"recipient": "no.such.agency"}, headers=auth("operator")
    )
    assert nothing.status_code == 202 and nothing.json() == {"retried": [], "count": 0}
    retried = hub.client.post(
        "/v1/deliveries/retry",
        json={"state": "dead", "adapter": "agency", "recipient": "000.00.00.H41"},
        headers=auth("operator"),
    )
    assert retried.status_code == 202
    ids = {d["message_id"] for d in retried.json()["retried"]}
    assert set(sent) <= ids and retried.json()["count"] == len(retried.json()["retried"])
    assert all(d["state"] == "queued" and d["attempts"] == 0 for d in retried.json()["retried"])
    events = hub.get(f"/v1/messages/{sent[0]}", as_=AGENCY).json()["events"]
    assert any(
        e["kind"] == "delivery.queued" and e["data"].get("reason") == "operator bulk retry" for e in events
    ), [e["kind"] for e in events]


def test_swagger_ui_and_redoc_are_served_from_the_hub_itself(hub: RunningHub) -> None:
    for page in ("/docs", "/redoc"):
        html = hub.client.get(page).text
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert assets, page
        assert not [a for a in assets if a.startswith(("http:", "https:", "//"))], (page, assets)
        for asset in assets:
            answer = hub.client.get(asset)
            assert answer.status_code == 200 and len(answer.content) > 100, (page, asset)


def test_every_document_type_schema_is_served(hub: RunningHub) -> None:
    listed = hub.client.get("/v1/schemas").json()
    types = {s["type"] for s in listed}
    assert {"edxml.document", "edxml.status", "payment.request", "ems.order"} <= types
    for entry in listed:
        by_type = hub.client.get(f"/v1/schemas/{entry['type']}")
        assert by_type.status_code == 200
        assert by_type.headers["content-type"].startswith(entry["media_type"])
        assert by_type.content == hub.client.get(entry["url"]).content
        if entry["format"] == "json":
            assert "$schema" in by_type.json() or "type" in by_type.json()
    # an XSD with its imports loads from the hub alone, as an integrator's validator would load it
    document = next(s for s in listed if s["type"] == "edxml.document")
    schema = xmlschema.XMLSchema(f"{hub.url}{document['url']}")
    schema.validate(fresh_document())
    assert hub.client.get("/v1/schemas/no.such.type").json()["type"] == "/problems/not-found"
    assert hub.client.get("/v1/schemas/files/../config/participants.yaml").status_code == 404


def test_a_problem_type_is_a_page_for_a_browser_and_json_for_a_client(hub: RunningHub) -> None:
    as_json = hub.client.get("/problems/schema-invalid")
    assert as_json.json() == {
        "type": "/problems/schema-invalid",
        "title": "The document does not match its schema",
        "status": 422,
    }
    browser = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    page = hub.client.get("/problems/schema-invalid", headers=browser)
    assert page.headers["content-type"].startswith("text/html")
    assert "The document does not match its schema" in page.text and "422" in page.text
    catalogue = hub.client.get("/problems", headers=browser)
    assert catalogue.headers["content-type"].startswith("text/html")
    assert 'href="/problems/not-ready"' in catalogue.text
