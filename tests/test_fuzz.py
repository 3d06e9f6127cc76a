"""The JSON API fuzzed from its own OpenAPI description (schemathesis strategies driven by
hypothesis, bounded): whatever arrives, no 500 and every error in the documented shape."""
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.fixtures.cases import start

EXAMPLES = 30  # per operation and run; raise it locally for a longer soak


def test_api_never_fails_on_any_input(app, api):
    clerk = api("clerk1")
    start(clerk)  # something to find
    identities = [clerk.headers, api("reviewer1").headers, {}]
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    counts = {"calls": 0, "2xx": 0, "4xx": 0}

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            for headers in identities:
                response = case.call(headers=headers)
                counts["calls"] += 1
                assert response.status_code < 500, (case.method, case.formatted_path, response.status_code,
                                                     response.text[:300])
                counts["2xx" if response.status_code < 400 else "4xx"] += 1
                if response.status_code >= 400 and "json" in response.headers.get("Content-Type", ""):
                    assert set(response.json()["error"]) == {"code", "message", "fields"}

        check()
    print(f"schemathesis: {len(operations)} operations, {counts}")
