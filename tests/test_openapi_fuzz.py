"""schemathesis over the hub's own OpenAPI description: zero server errors.

Every operation the live hub describes at /openapi.json is called with parameters, headers and
bodies schemathesis generates (conforming to the description and not), with the development tokens
— an operator's for operator endpoints, an agency's for the rest — and must answer below 500, every
refusal as problem+json. Cases are drawn from both of schemathesis's modes: conforming to the
description, and deliberately violating it. Bounded by example counts (``EXAMPLES_PER_OPERATION``).

Driven through schemathesis's Hypothesis strategies rather than its pytest plugin: the schema comes
from a hub this module starts, and the plugin's fixture loader does not work with pytest 9.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hubtest import RunningHub, auth, running_hub

EXAMPLES_PER_OPERATION = 20
OPERATOR_PATHS = ("/v1/deliveries", "/replay")


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    with running_hub(tmp_path_factory.mktemp("hub"), workers=0) as running:
        yield running


def fuzz(operation: schemathesis.APIOperation, hub: RunningHub, failures: list[str]) -> None:
    """Call one operation with generated cases; note every server error or non-problem refusal."""
    who = "operator" if any(part in operation.path for part in OPERATOR_PATHS) else "000.01.02.H41"

    cases = st.one_of(
        operation.as_strategy(schemathesis.GenerationMode.POSITIVE),
        operation.as_strategy(schemathesis.GenerationMode.NEGATIVE),
    )

    @given(case=cases)
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def call(case: schemathesis.Case) -> None:
        response = case.call(base_url=hub.url, headers=auth(who), timeout=30)
        where = f"{case.method} {case.formatted_path}"
        if response.status_code >= 500:
            failures.append(f"{where}: {response.status_code} {response.text[:300]}")
        elif response.status_code >= 400 and not case.path.startswith("/adapters/"):
            # (an adapter's callback answers its gateway in the gateway's own format, as documented)
            media = (response.headers.get("content-type") or [""])[0]
            if not media.startswith("application/problem+json"):
                failures.append(f"{where}: {response.status_code} as {media!r}")

    call()


def test_no_operation_answers_a_server_error(hub: RunningHub) -> None:
    schema = schemathesis.openapi.from_url(f"{hub.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10, "the description lists the API's operations"
    failures: list[str] = []
    for operation in operations:
        fuzz(operation, hub, failures)
    assert not failures, "\n".join(sorted(set(failures))[:20])
    assert hub.client.get("/healthz").status_code == 200
