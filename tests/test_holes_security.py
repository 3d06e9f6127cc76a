"""Holes a hostile test run found: deeply nested JSON, sessions that outlive logout, user
enumeration on the login endpoints, open redirects through `next`."""
import re
import statistics
import time

import pytest
from sqlalchemy import select

from bianzhi.accounts import operations as accounts
from bianzhi.accounts.models import ApiToken, User
from bianzhi.extensions import db
from tests.conftest import PASSWORD, Api, csrf_token, login
from tests.fixtures.cases import only_task, start
from tests.fixtures.pages import text_of, user_client

DEEP = "[" * 1000 + "]" * 1000
DEEPER = "[" * 100_000 + "]" * 100_000


# --- 6. deeply nested JSON --------------------------------------------------------------

@pytest.mark.parametrize("body", [DEEP, DEEPER, '{"a":' * 500 + "1" + "}" * 500])
def test_deeply_nested_token_request_is_refused_in_chinese(client, body):
    response = client.post("/api/v1/tokens", data=body, content_type="application/json")
    assert response.status_code == 422, response.status_code
    error = response.json["error"]
    assert error["code"] == "json_too_deep" and "嵌套" in error["message"]


def test_deeply_nested_query_run_is_refused(api):
    reviewer = api("reviewer1")
    response = reviewer.post("/api/v1/queries/run", data=DEEP, content_type="application/json")
    assert response.status_code == 422 and "嵌套" in response.json["error"]["message"]
    inner = '{"target": "person", "definition": ' + DEEP + "}"
    response = reviewer.post("/api/v1/queries/run", data=inner, content_type="application/json")
    assert response.status_code == 422 and "嵌套" in response.json["error"]["message"]


def test_deeply_nested_definition_in_the_query_string_is_refused(app):
    client = user_client(app, "reviewer1")
    response = client.get("/queries/builder", query_string={"definition": DEEP})
    assert response.status_code == 422 and "嵌套" in text_of(response)
    token = csrf_token(client, "/queries/builder")
    response = client.post("/queries/saved", data={"csrf_token": token, "name": "深", "target": "person",
                                                   "definition": DEEP})
    assert response.status_code == 422 and "嵌套" in text_of(response)


def test_ordinary_nesting_still_parses(api):
    """A legitimate body a few levels deep is not caught by the limit."""
    reviewer = api("reviewer1")
    definition = {"op": "and", "items": [{"op": "or", "items": [{"field": "person.sex", "op": "eq", "value": "女"}]}]}
    response = reviewer.post("/api/v1/queries/run", json={"target": "person", "definition": definition})
    assert response.status_code == 200, response.json


# --- 9. redirects through `next` -------------------------------------------------------

UNSAFE = ["/\t/evil.example", "//evil.example", "/\\evil.example", "\\\\evil.example", "/\r\nSet-Cookie: x=1",
          "/ok\n", "https://evil.example/", "javascript:alert(1)", " /tasks", "/\u3000/evil.example",
          "/\x7f/evil.example", "/tasks/\x0b", ""]


def test_unsafe_next_goes_to_the_default(app, api):
    task = only_task(start(api("clerk1")))
    client = user_client(app, "reviewer1")
    token = csrf_token(client, "/inbox")
    for target in UNSAFE:  # the first claim succeeds, the others are refused: each goes back
        response = client.post(f"/tasks/{task}/claim", data={"csrf_token": token, "next": target})
        assert response.status_code == 302, (target, response.status_code)
        assert response.headers["Location"] == "/inbox", (target, response.headers["Location"])
    response = client.post(f"/tasks/{task}/claim", data={"csrf_token": token, "next": "/inbox?scope=group&q=%E5%BC%A0"})
    assert response.status_code == 302 and response.headers["Location"] == "/inbox?scope=group&q=%E5%BC%A0"
