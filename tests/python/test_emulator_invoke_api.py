"""`snapbus emulate` answers the Lambda Invoke API as AWS's own SDK expects: boto3 (Debian's
python3-boto3) invokes a function by name, ARN and alias, asynchronously and as a dry run, asks for
the invocation's log (LogType Tail), and reads the emulator's refusals as the exceptions Lambda's
would raise. Debian's botocore predates
InvokeWithResponseStream, so its answer is read with botocore's own event stream decoder, which
checks every message's CRCs."""
import base64
import http.client
import json
import pathlib
import time

import boto3  # python3-boto3, which ./setup.sh installs
import pytest
from botocore.config import Config
from botocore.eventstream import EventStreamBuffer
from botocore.exceptions import ClientError

from conftest import PROCESS_TIMEOUT, PYTHON, read_line

FAKE_RUNTIME = pathlib.Path(__file__).resolve().parents[2] / "emulator" / "testdata" / "fake_runtime.py"
REGION = "eu-west-1"
NAME = "orders"


def start_emulator(cli, processes, tmp_path, *runtime_args, runtime=(PYTHON, str(FAKE_RUNTIME)), options=()):
    """An emulator running `runtime` (fake_runtime.py unless given) with `runtime_args` as function
    `orders`, version 7, with `options` besides."""
    ready = tmp_path / f"ready-{len(processes.started)}.json"
    proc = processes.start([str(cli), "emulate", "--port", "0", "--runtime-api-port", "0", "--ready-file", str(ready),
                            "--function-name", NAME, "--function-version", "7", "--region", REGION, "--timeout", "30",
                            *options, "--", *runtime, *map(str, runtime_args)], processes.env())
    deadline = time.monotonic() + PROCESS_TIMEOUT
    while not (ready.exists() and ready.stat().st_size) and time.monotonic() < deadline:
        assert proc.poll() is None, processes.stderr_of(proc)
        time.sleep(0.02)
    proc.front_door = json.loads(ready.read_text())["frontDoor"]
    return proc


@pytest.fixture
def emulator(cli, processes, tmp_path):
    return start_emulator(cli, processes, tmp_path, "echo")


def client_of(emulator):
    return boto3.client("lambda", endpoint_url=f"http://{emulator.front_door}", region_name=REGION,
                        aws_access_key_id="local", aws_secret_access_key="local",
                        config=Config(retries={"max_attempts": 0}, read_timeout=PROCESS_TIMEOUT,
                                      connect_timeout=PROCESS_TIMEOUT))


@pytest.fixture
def lam(emulator):
    return client_of(emulator)


def started(emulator, request_id: str, before: str) -> bool:
    """Whether the log shows `request_id` START before the START of `before` (both must come)."""
    seen = set()
    while before not in seen:
        line = read_line(emulator)
        if line.startswith("START RequestId: "):
            seen.add(line.split()[2])
    return request_id in seen


def test_every_form_of_the_name_invokes_the_function(lam):
    for name, qualifier in [(NAME, None), (f"{NAME}:7", None), (f"{NAME}:live", None),
                            (f"123456789012:function:{NAME}", "7"),
                            (f"arn:aws:lambda:{REGION}:123456789012:function:{NAME}", "$LATEST")]:
        extra = {"Qualifier": qualifier} if qualifier else {}
        answer = lam.invoke(FunctionName=name, Payload=json.dumps({"name": name}).encode(), **extra)
        assert answer["StatusCode"] == 200, name
        assert answer["ExecutedVersion"] == "7", name
        assert "FunctionError" not in answer
        assert json.loads(answer["Payload"].read())["echo"] == {"name": name}


def test_another_function_or_version_is_not_found(lam):
    for name in ["payments", f"{NAME}:8", f"arn:aws:lambda:us-east-1:123456789012:function:{NAME}"]:
        with pytest.raises(lam.exceptions.ResourceNotFoundException) as refused:
            lam.invoke(FunctionName=name, Payload=b"{}")
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        assert refused.value.response["Error"]["Message"].startswith("Function not found: arn:aws:lambda:")
        # The member Lambda's API model gives this error, which SDKs that bind members by name read.
        assert refused.value.response["Message"] == refused.value.response["Error"]["Message"]
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.invoke(FunctionName=f"{NAME}:live", Qualifier="beta", Payload=b"{}")


def test_the_runtime_gets_the_arn_the_caller_invoked(lam):
    # As Lambda's: unqualified for an unqualified call, else ending with the alias or version named.
    arn = f"arn:aws:lambda:{REGION}:000000000000:function:{NAME}"
    for name, qualifier, invoked in [(NAME, None, arn), (NAME, "live", f"{arn}:live"), (f"{NAME}:7", None, f"{arn}:7"),
                                     (f"arn:aws:lambda:{REGION}:123456789012:function:{NAME}:live", None, f"{arn}:live"),
                                     ("function", "$LATEST", f"{arn}:$LATEST")]:
        extra = {"Qualifier": qualifier} if qualifier else {}
        answer = lam.invoke(FunctionName=name, Payload=b"{}", **extra)
        assert json.loads(answer["Payload"].read())["arn"] == invoked, (name, qualifier)


def starts_until(emulator, request_id: str) -> list[str]:
    """The request ids of the log's START lines up to and including `request_id`'s."""
    ids = []
    while not ids or ids[-1] != request_id:
        line = read_line(emulator)
        if line.startswith("START RequestId: "):
            ids.append(line.split()[2])
    return ids


def test_a_payload_that_is_not_json_is_refused_and_runs_nothing(lam, emulator):
    for payload in [b"not json", b'{"a": 1', b"\xff\xfe", b'"\xff"']:
        for invocation_type in ["RequestResponse", "Event", "DryRun"]:
            with pytest.raises(lam.exceptions.InvalidRequestContentException) as refused:
                lam.invoke(FunctionName=NAME, InvocationType=invocation_type, Payload=payload)
            assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
            assert refused.value.response["Error"]["Message"].startswith("Could not parse request body into json")
    # InvokeWithResponseStream, which this botocore predates, signed as a newer one signs it.
    refused, _ = stream_invoke(emulator.front_door, b"not json", headers={
        "Authorization": "AWS4-HMAC-SHA256 Credential=local/20261205/eu-west-1/lambda/aws4_request, "
                         "SignedHeaders=host, Signature=0"})
    assert refused.status == 400
    assert refused.getheader("x-amzn-ErrorType") == "InvalidRequestContentException"
    # Any JSON value is an event, a bare string too.
    assert json.loads(lam.invoke(FunctionName=NAME, Payload=b'"text"')["Payload"].read())["echo"] == "text"
    last = lam.invoke(FunctionName=NAME, Payload=b"{}")["ResponseMetadata"]["RequestId"]
    assert len(starts_until(emulator, last)) == 2
    # A caller that does not sign its request, as one of the RIE's would not, gets the RIE's
    # behaviour: the payload goes to the function as it came (which this runtime cannot parse).
    conn = http.client.HTTPConnection(emulator.front_door, timeout=PROCESS_TIMEOUT)
    conn.request("POST", "/2015-03-31/functions/function/invocations", body=b"not json")
    answer = conn.getresponse()
    assert answer.status == 200
    assert answer.getheader("X-Amz-Function-Error") == "Unhandled"
    assert json.loads(answer.read())["errorType"] == "Runtime.ExitError"
    conn.close()


def test_an_sdks_other_operations_are_refused_and_run_nothing(lam, emulator):
    with pytest.raises(ClientError) as refused:
        lam.get_function_configuration(FunctionName=NAME)
    assert refused.value.response["Error"]["Code"] == "UnknownOperationException"
    assert "GET /2015-03-31/functions/orders/configuration" in refused.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as refused:
        lam.invoke_async(FunctionName=NAME, InvokeArgs=b"{}")
    assert refused.value.response["Error"]["Code"] == "UnknownOperationException"
    last = lam.invoke(FunctionName=NAME, Payload=b"{}")["ResponseMetadata"]["RequestId"]
    assert starts_until(emulator, last) == [last]


def test_an_sdks_invoke_of_a_stream_that_fails_gets_the_function_error(cli, processes, tmp_path):
    # Lambda's Invoke answers a streaming function whole: a failure mid-stream is a function error,
    # which an SDK reads from X-Amz-Function-Error (it reads no trailers).
    emulator = start_emulator(cli, processes, tmp_path, "stream-error")
    answer = client_of(emulator).invoke(FunctionName=NAME, Payload=b"{}")
    assert answer["StatusCode"] == 200
    assert answer["FunctionError"] == "Unhandled"
    assert json.loads(answer["Payload"].read()) == {"errorMessage": "boom", "errorType": "StreamBroke"}


def test_an_sdks_invoke_of_a_stream_past_six_mb_gets_the_size_error(cli, processes, tmp_path):
    # As a buffered answer past Lambda's limit; the rest of the stream is read and dropped, so the
    # runtime goes on to the next invocation. A caller of the RIE's path, unsigned, gets it all.
    emulator = start_emulator(cli, processes, tmp_path, "stream-big", 7)
    lam = client_of(emulator)
    for _ in range(2):
        answer = lam.invoke(FunctionName=NAME, Payload=b"{}")
        assert answer["FunctionError"] == "Unhandled"
        assert json.loads(answer["Payload"].read()) == {
            "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
            "errorType": "Function.ResponseSizeTooLarge"}
    conn = http.client.HTTPConnection(emulator.front_door, timeout=PROCESS_TIMEOUT)
    conn.request("POST", "/2015-03-31/functions/function/invocations", body=b"{}")
    answer = conn.getresponse()
    assert answer.status == 200
    assert len(answer.read()) == 7 << 20
    conn.close()


def test_an_event_invocation_is_accepted_at_once_and_runs(lam, emulator):
    accepted = lam.invoke(FunctionName=NAME, InvocationType="Event", Payload=b'{"async": true}')
    assert accepted["StatusCode"] == 202
    assert accepted["Payload"].read() == b""
    event_id = accepted["ResponseMetadata"]["RequestId"]
    after = lam.invoke(FunctionName=NAME, Payload=b"{}")
    assert started(emulator, event_id, before=after["ResponseMetadata"]["RequestId"])


def failures_of(emulator, request_id: str, until: str) -> list[float]:
    """When the runtime failed `request_id` (its clock, CLOCK_MONOTONIC as ours), read from the log
    up to the START of `until`."""
    times = []
    while not (line := read_line(emulator)).startswith(f"START RequestId: {until} "):
        if line.startswith(f"failing {request_id} at "):
            times.append(float(line.split()[-1]))
    return times


def test_a_failed_event_runs_twice_more_with_its_request_id(cli, processes, tmp_path):
    # Lambda's queue retries a failed Event twice, the second retry waiting twice as long as the first.
    emulator = start_emulator(cli, processes, tmp_path, "fail-when-asked", options=("--event-retry-delay", "0.3"))
    lam = client_of(emulator)
    failing = lam.invoke(FunctionName=NAME, InvocationType="Event", Payload=b'{"fail": true}')["ResponseMetadata"]
    ok = lam.invoke(FunctionName=NAME, InvocationType="Event", Payload=b'{"fail": false}')["ResponseMetadata"]
    # Once the emulator has dropped it after its last retry, a waiting call comes after all three runs.
    dropped = f"Event {failing['RequestId']} failed (HandlerFailed) 3 times: dropped"
    deadline = time.monotonic() + PROCESS_TIMEOUT
    while dropped not in processes.stderr_of(emulator) and time.monotonic() < deadline:
        time.sleep(0.05)
    after = lam.invoke(FunctionName=NAME, Payload=b"{}")["ResponseMetadata"]["RequestId"]
    starts = failures_of(emulator, failing["RequestId"], until=after)
    assert len(starts) == 3
    assert starts[1] - starts[0] >= 0.3
    assert starts[2] - starts[1] >= 0.6
    stderr = processes.stderr_of(emulator)
    assert f"Event {failing['RequestId']} failed (HandlerFailed): retry 1 of 2" in stderr
    assert dropped in stderr
    assert f"Event {ok['RequestId']}" not in stderr


def test_event_retries_may_be_turned_off(cli, processes, tmp_path):
    emulator = start_emulator(cli, processes, tmp_path, "fail-when-asked",
                              options=("--event-retries", "0", "--event-retry-delay", "0.1"))
    lam = client_of(emulator)
    failing = lam.invoke(FunctionName=NAME, InvocationType="Event", Payload=b'{"fail": true}')["ResponseMetadata"]
    time.sleep(0.5)
    after = lam.invoke(FunctionName=NAME, Payload=b"{}")["ResponseMetadata"]["RequestId"]
    assert len(failures_of(emulator, failing["RequestId"], until=after)) == 1


def test_a_dry_run_runs_nothing(lam, emulator):
    dry = lam.invoke(FunctionName=NAME, InvocationType="DryRun", Payload=b"{}")
    assert dry["StatusCode"] == 204
    after = lam.invoke(FunctionName=NAME, Payload=b"{}")
    assert not started(emulator, dry["ResponseMetadata"]["RequestId"], before=after["ResponseMetadata"]["RequestId"])
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName="payments", InvocationType="DryRun", Payload=b"{}")


def test_payload_limits_are_lambdas(lam):
    # 6 MiB for a synchronous call, 1 MiB for an asynchronous one. Lambda's type is not the
    # RequestTooLargeException of the SDK's model, so the SDK raises a plain ClientError.
    with pytest.raises(ClientError) as refused:
        lam.invoke(FunctionName=NAME, Payload=b'"' + b"x" * (6 * 1024 * 1024) + b'"')
    assert refused.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
    assert "6291456 bytes" in refused.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as refused:
        lam.invoke(FunctionName=NAME, InvocationType="Event", Payload=b'"' + b"x" * (1024 * 1024) + b'"')
    assert refused.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
    assert "1048576 bytes" in refused.value.response["Error"]["Message"]
    near = b'"' + b"x" * (1024 * 1024 - 2) + b'"'
    assert lam.invoke(FunctionName=NAME, InvocationType="Event", Payload=near)["StatusCode"] == 202


def test_a_bad_client_context_is_refused_as_lambda_refuses_it(lam):
    with pytest.raises(lam.exceptions.InvalidRequestContentException):
        lam.invoke(FunctionName=NAME, ClientContext="not base64 json", Payload=b"{}")
    # The documented limit, 3,583 bytes of base64: the longest encoding within it is taken, the next refused.
    def client_context(length: int) -> str:
        encoded = base64.b64encode(json.dumps({"custom": {"k": "v" * (length * 3 // 4 - 22)}}).encode()).decode()
        assert len(encoded) == length
        return encoded
    assert lam.invoke(FunctionName=NAME, ClientContext=client_context(3580), Payload=b"{}")["StatusCode"] == 200
    with pytest.raises(lam.exceptions.InvalidRequestContentException) as refused:
        lam.invoke(FunctionName=NAME, ClientContext=client_context(3584), Payload=b"{}")
    assert "3583" in refused.value.response["Error"]["Message"]


def stream_invoke(front_door: str, payload: bytes, name: str = NAME, read_after: float = 0,
                  headers: dict | None = None) -> tuple[http.client.HTTPResponse, list]:
    """POST InvokeWithResponseStream as the SDKs send it; the answer and the events of a 200 one,
    read `read_after` seconds after the request was sent."""
    conn = http.client.HTTPConnection(front_door, timeout=PROCESS_TIMEOUT)
    conn.request("POST", f"/2021-11-15/functions/{name}/response-streaming-invocations", body=payload,
                 headers=headers or {})
    time.sleep(read_after)
    answer = conn.getresponse()
    body = answer.read()
    messages = []
    if answer.status == 200:
        decoder = EventStreamBuffer()
        decoder.add_data(body)
        messages = list(decoder)
    conn.close()
    assert all(message.headers[":message-type"] == "event" for message in messages)
    events = [(message.headers[":event-type"], message.headers[":content-type"], message.payload)
              for message in messages]
    return answer, events


def test_invoke_with_response_stream_carries_a_buffered_answer(emulator):
    answer, events = stream_invoke(emulator.front_door, b'{"streamed": 1}')
    assert answer.status == 200
    assert answer.getheader("X-Amz-Executed-Version") == "7"
    assert answer.getheader("Content-Type") == "application/vnd.amazon.eventstream"
    assert [(kind, content_type) for kind, content_type, _ in events] == [
        ("PayloadChunk", "application/octet-stream"), ("InvokeComplete", "application/json")]
    assert json.loads(events[0][2])["echo"] == {"streamed": 1}
    assert json.loads(events[1][2]) == {}
    refused, _ = stream_invoke(emulator.front_door, b"{}", name="payments")
    assert refused.status == 404
    assert refused.getheader("x-amzn-ErrorType") == "ResourceNotFoundException"


def test_invoke_with_response_stream_relays_chunks_and_a_mid_stream_error(cli, processes, tmp_path):
    emulator = start_emulator(cli, processes, tmp_path, "stream-error")
    answer, events = stream_invoke(emulator.front_door, b"{}")
    assert answer.status == 200
    # The runtime writes its two chunks back to back: they may come in one event or two.
    *chunks, (last_kind, _, last_payload) = events
    assert {kind for kind, _, _ in chunks} == {"PayloadChunk"}
    assert b"".join(payload for _, _, payload in chunks) == b"first;second;"
    assert last_kind == "InvokeComplete"
    complete = json.loads(last_payload)
    assert complete["ErrorCode"] == "StreamBroke"
    assert json.loads(complete["ErrorDetails"]) == {"errorMessage": "boom", "errorType": "StreamBroke"}


def test_a_slow_reader_gets_events_the_sdks_can_decode(cli, processes, tmp_path):
    # 20 MiB arrive while the caller does not read: they must not go out as one event, past the
    # 16 MiB payload that botocore's decoder (and the Go SDK's) takes.
    emulator = start_emulator(cli, processes, tmp_path, "stream-big", 20)
    answer, events = stream_invoke(emulator.front_door, b"{}", read_after=3)
    assert answer.status == 200
    *chunks, (last_kind, _, last_payload) = events
    assert last_kind == "InvokeComplete" and json.loads(last_payload) == {}
    assert {kind for kind, _, _ in chunks} == {"PayloadChunk"}
    assert max(len(payload) for _, _, payload in chunks) <= 1 << 20
    assert sum(len(payload) for _, _, payload in chunks) == 20 << 20


def test_event_invocations_are_not_throttled_with_the_callers_that_wait(cli, processes, tmp_path):
    # A runtime that never asks for an event: 150 Events queue (past the 100 waiting callers that
    # are throttled), and a caller that waits is throttled.
    emulator = start_emulator(cli, processes, tmp_path, "600", runtime=("/bin/sleep",))
    lam = boto3.client("lambda", endpoint_url=f"http://{emulator.front_door}", region_name=REGION,
                       aws_access_key_id="local", aws_secret_access_key="local",
                       config=Config(retries={"max_attempts": 0}, read_timeout=PROCESS_TIMEOUT))
    for _ in range(150):
        assert lam.invoke(FunctionName=NAME, InvocationType="Event", Payload=b"{}")["StatusCode"] == 202
    with pytest.raises(lam.exceptions.TooManyRequestsException):
        lam.invoke(FunctionName=NAME, Payload=b"{}")


def resident_mib(pid: int) -> float:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


def test_a_slow_reader_slows_the_runtime_instead_of_filling_the_emulator(cli, processes, tmp_path):
    # 64 MiB streamed to a caller that reads nothing for 2 s: the emulator holds about 1 MiB of it
    # (and the sockets' buffers), and reads the rest of the runtime's upload as the caller reads.
    emulator = start_emulator(cli, processes, tmp_path, "stream-big", 64)
    before = resident_mib(emulator.pid)
    conn = http.client.HTTPConnection(emulator.front_door, timeout=PROCESS_TIMEOUT)
    conn.request("POST", f"/2015-03-31/functions/{NAME}/invocations", body=b"{}")
    time.sleep(2)
    grown = resident_mib(emulator.pid) - before
    assert grown < 24, f"the emulator grew by {grown:.1f} MiB while the caller did not read"
    answer = conn.getresponse()
    assert answer.status == 200
    assert len(answer.read()) == 64 << 20
    conn.close()


def log_lines(log_result: str) -> list[str]:
    return base64.b64decode(log_result).decode().splitlines()


def test_log_type_tail_returns_the_invocations_log(cli, processes, tmp_path):
    # The function writes on stdout and stderr while it runs: Lambda's LogResult has it between
    # START and END, with REPORT last, as `aws lambda invoke --log-type Tail` shows it.
    emulator = start_emulator(cli, processes, tmp_path, "chatty")
    lam = client_of(emulator)
    answer = lam.invoke(FunctionName=NAME, LogType="Tail", Payload=b'{"say": "hi"}')
    assert json.loads(answer["Payload"].read())["echo"] == {"say": "hi"}
    request_id = answer["ResponseMetadata"]["RequestId"]
    lines = log_lines(answer["LogResult"])
    assert lines[0] == f"START RequestId: {request_id} Version: 7"
    assert lines[1:3] == ["says hi", "warns hi"]  # stdout, then stderr: one pipe, in the order written
    assert lines[3] == f"END RequestId: {request_id}"
    assert lines[4].startswith(f"REPORT RequestId: {request_id}\tDuration: ")
    assert len(lines) == 5
    # The emulator's own stdout has the function's output, stdout and stderr, in the same place.
    while (line := read_line(emulator)) != f"START RequestId: {request_id} Version: 7":
        pass
    assert [read_line(emulator) for _ in range(3)] == ["says hi", "warns hi", f"END RequestId: {request_id}"]

    assert "LogResult" not in lam.invoke(FunctionName=NAME, Payload=b'{"say": "no"}')
    assert "LogResult" not in lam.invoke(FunctionName=NAME, LogType="None", Payload=b'{"say": "no"}')
    # A chatty invocation: its last 4 KB, REPORT included.
    answer = lam.invoke(FunctionName=NAME, LogType="Tail", Payload=b'{"say": "much", "pad": 10000}')
    log = base64.b64decode(answer["LogResult"])
    assert len(log) == 4096
    assert log.startswith(b"ppp")
    assert log.decode().splitlines()[-2] == f"END RequestId: {answer['ResponseMetadata']['RequestId']}"
    # boto3 checks LogType itself; another client may send anything.
    conn = http.client.HTTPConnection(emulator.front_door, timeout=PROCESS_TIMEOUT)
    conn.request("POST", f"/2015-03-31/functions/{NAME}/invocations", body=b"{}",
                 headers={"X-Amz-Log-Type": "Everything"})
    refused = conn.getresponse()
    assert refused.status == 400
    assert refused.getheader("x-amzn-ErrorType") == "ValidationException"
    assert "'Everything' at 'logType'" in json.loads(refused.read())["message"]
    conn.close()


def test_the_log_of_a_failed_invocation_says_why(cli, processes, tmp_path):
    emulator = start_emulator(cli, processes, tmp_path, "crash-invoke")
    answer = client_of(emulator).invoke(FunctionName=NAME, LogType="Tail", Payload=b"{}")
    assert answer["FunctionError"] == "Unhandled"
    payload = json.loads(answer["Payload"].read())
    request_id = answer["ResponseMetadata"]["RequestId"]
    assert payload == {"errorType": "Runtime.ExitError",
                       "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: exit status 3"}
    lines = log_lines(answer["LogResult"])
    assert lines[0] == f"START RequestId: {request_id} Version: 7"
    assert f"RequestId: {request_id} Error: Runtime exited with error: exit status 3" in lines
    assert "Runtime.ExitError" in lines
    assert lines[-2] == f"END RequestId: {request_id}"
    assert lines[-1].startswith(f"REPORT RequestId: {request_id}\t")
    assert "Status: error\tError Type: Runtime.ExitError" in lines[-1]


def test_a_streamed_answer_comes_whole_with_its_log(cli, processes, tmp_path):
    # Through Invoke, a caller that asks for the log gets the streamed answer whole, as Lambda's
    # Invoke buffers a streaming function's; through InvokeWithResponseStream, in InvokeComplete.
    emulator = start_emulator(cli, processes, tmp_path, "stream-big", 3)
    answer = client_of(emulator).invoke(FunctionName=NAME, LogType="Tail", Payload=b"{}")
    assert answer["Payload"].read() == b"b" * (3 << 20)
    request_id = answer["ResponseMetadata"]["RequestId"]
    assert log_lines(answer["LogResult"])[0] == f"START RequestId: {request_id} Version: 7"
    answer, events = stream_invoke(emulator.front_door, b"{}", headers={"X-Amz-Log-Type": "Tail"})
    assert answer.status == 200
    *chunks, (last_kind, _, last_payload) = events
    assert sum(len(payload) for _, _, payload in chunks) == 3 << 20
    assert last_kind == "InvokeComplete"
    lines = log_lines(json.loads(last_payload)["LogResult"])
    request_id = answer.getheader("X-Amzn-RequestId")
    assert lines[0] == f"START RequestId: {request_id} Version: 7"
    assert lines[-1].startswith(f"REPORT RequestId: {request_id}\t")
