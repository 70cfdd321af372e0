"""Every payload of the shared event vectors (SNAPBUS_EVENT_VECTORS, real API Gateway REST and HTTP
API, ALB, Function URL, SQS, SNS and S3 events) POSTed as it is to the emulator's RIE path, through
the adapter to the test app and back: an HTTP event reaches the app as the request it describes
(method, path, query, body, x-amzn-request-context) and the result has the shape its source
expects; any other event reaches the pass-through path (/events) whole, and the app's JSON answer
is the result."""
import base64
import json
import os
import pathlib
import urllib.parse

import pytest

from adapter_web_harness import REPO, Function, make_app_task_root, make_node_app_task_root
from conftest import Processes

VECTORS = pathlib.Path(os.environ.get("SNAPBUS_EVENT_VECTORS", REPO.parent / "shared" / "vectors" / "lambda-events"))
EVENT_FILES = sorted(VECTORS.glob("*.json")) if VECTORS.is_dir() else []


@pytest.fixture(scope="module", params=["uvicorn", "node"])
def events_function(cli, opt_dir, tmp_path_factory, request):
    """One function per app server for every vector (buffered, one worker): the events do not change
    its state. The servers parse requests differently: uvicorn (httptools or h11) and Node.js's llhttp,
    which refuses with 400 what it finds malformed."""
    make_task_root = {"uvicorn": make_app_task_root, "node": make_node_app_task_root}[request.param]
    tmp_path = tmp_path_factory.mktemp(f"events-{request.param}")
    processes = Processes(tmp_path)
    function = Function(cli, opt_dir, processes, tmp_path)
    function.start(make_task_root(tmp_path), {"WORKERS": 1})
    yield function
    processes.stop_all()


def source_of(event: dict) -> str:
    context = event.get("requestContext") or {}
    if "elb" in context:
        return "alb"
    if "httpMethod" in event:
        return "rest"
    if "http" in context and "rawPath" in event:
        return "http"  # API Gateway HTTP API 2.0 or Function URL: the same shape
    return "other"


def expected_request(event: dict, source: str) -> tuple[str, str, list[tuple[str, str]], bytes]:
    """Method, path, query pairs (decoded) and body of the request the event stands for."""
    body = (event.get("body") or "").encode()
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body)
    if source == "http":
        query = urllib.parse.parse_qsl(event.get("rawQueryString") or "", keep_blank_values=True)
        return event["requestContext"]["http"]["method"], event["rawPath"], query, body
    multi = event.get("multiValueQueryStringParameters") or {}
    pairs = ([(name, value) for name, values in multi.items() for value in values] if multi
             else list((event.get("queryStringParameters") or {}).items()))
    if source == "alb":  # ALB passes the query on as the client encoded it
        pairs = [(urllib.parse.unquote_plus(n), urllib.parse.unquote_plus(v)) for n, v in pairs]
    return event["httpMethod"], event["path"], pairs, body


def assert_result_shape(result: dict, event: dict, source: str) -> None:
    assert result["statusCode"] == 200, result
    assert isinstance(result["body"], str) and result["isBase64Encoded"] is False, result
    if source == "http":
        assert isinstance(result["headers"], dict) and "multiValueHeaders" not in result, result
        assert {"first=1", "second=2"} <= {c.split(";")[0] for c in result["cookies"]}, result
    elif source == "rest" or (source == "alb" and event.get("multiValueHeaders")):
        headers = result["multiValueHeaders"]
        assert all(isinstance(v, list) for v in headers.values()), result
        assert len(headers["set-cookie"]) == 2, result
    else:
        assert isinstance(result["headers"], dict) and "multiValueHeaders" not in result, result
    if source == "alb":
        assert result["statusDescription"] == "200 OK", result


@pytest.mark.skipif(not EVENT_FILES, reason=f"no event vectors at {VECTORS}")
@pytest.mark.parametrize("path", EVENT_FILES, ids=[p.name for p in EVENT_FILES])
def test_event_reaches_the_app_and_the_result_has_its_shape(events_function, path):
    event = json.loads(path.read_text())
    response = events_function.invoke_raw(event)
    assert response.status_code == 200, response.text
    assert "x-amz-function-error" not in response.headers, response.text
    result = response.json()
    source = source_of(event)

    if source == "other":
        assert result == {"passThrough": True, "contentType": result["contentType"], "traceId": result["traceId"],
                          "tenantId": None, "received": event}, result
        assert result["contentType"].startswith("application/json"), result
        return

    assert_result_shape(result, event, source)
    echo = json.loads(result["body"])
    method, event_path, query, body = expected_request(event, source)
    assert echo["method"] == method
    stage = "/" + (event.get("requestContext") or {}).get("stage", "")
    accepted_paths = {event_path, event_path[len(stage):] if event_path.startswith(stage + "/") else event_path}
    assert urllib.parse.unquote(echo["path"]) in accepted_paths, (echo["path"], accepted_paths)
    assert sorted(map(tuple, echo["queryPairs"])) == sorted(query), (echo["query"], query)
    assert base64.b64decode(echo["body"]) == body
    headers = {name.lower(): value for name, value in echo["headers"]}
    assert json.loads(headers["x-amzn-request-context"]) == event["requestContext"]
    lambda_context = headers["x-amzn-lambda-context"]
    assert response.headers["x-amzn-requestid"] in lambda_context, lambda_context


@pytest.mark.skipif(not EVENT_FILES, reason=f"no event vectors at {VECTORS}")
@pytest.mark.parametrize("name", ["http-apigw_v2_proxy_request.json", "example-sqs-event.json"])
def test_the_invocations_trace_and_tenant_reach_the_app(events_function, name):
    """As from LWA: the invocation's trace header (Lambda's, not API Gateway's) on every request,
    pass-through included, and the tenant of a function in tenant isolation mode."""
    trace = "Root=1-67a1b2c3-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1"
    event = json.loads((VECTORS / name).read_text())
    response = events_function.invoke_raw(event, headers={"X-Amzn-Trace-Id": trace, "X-Amz-Tenant-Id": "tenant-7"})
    assert response.status_code == 200, response.text
    result = response.json()
    if "passThrough" in result:
        assert (result["traceId"], result["tenantId"]) == (trace, "tenant-7"), result
    else:
        headers = {name.lower(): value for name, value in json.loads(result["body"])["headers"]}
        assert (headers["x-amzn-trace-id"], headers["x-amz-tenant-id"]) == (trace, "tenant-7"), headers


@pytest.mark.skipif(not EVENT_FILES, reason=f"no event vectors at {VECTORS}")
def test_path_and_query_reach_the_app_as_the_client_sent_them(events_function):
    """As LWA's URL parser leaves them: `ids[]=1` and friends arrive unescaped (an app that checks a
    signature over its query needs the client's bytes), and each server's parser takes them."""
    event = json.loads((VECTORS / "http-apigw_v2_proxy_request_minimal.json").read_text())
    event["rawPath"] = "/echo/a[1]|b/./c/../d"
    event["rawQueryString"] = "ids[]=1&ids[]=2&f={a}|^`&q='x'"
    response = events_function.invoke_raw(event)
    assert response.status_code == 200, response.text
    echo = json.loads(response.json()["body"])
    assert (echo["path"], echo["query"]) == ("/echo/a[1]|b/d", "ids[]=1&ids[]=2&f={a}|^`&q=%27x%27"), echo
