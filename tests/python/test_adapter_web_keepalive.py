"""Keep-alive connections to the app across a restore, LWA's most reported bug (502s from reused
connections): uvicorn closes connections idle for over a second (--timeout-keep-alive 1), the
function stays frozen for two (--while-frozen 'sleep 2'), so every connection the adapter had open
before the snapshot is closed by the app as soon as it thaws. No request may fail, none may use a
connection from before the snapshot, and connections the app closes between requests later on
must not fail a request either."""
import time



def test_no_request_fails_after_the_app_closed_its_idle_connections(function, task_root):
    # The LWA before-checkpoint POST leaves a pooled connection right before the snapshot.
    function.start(task_root, {"WORKERS": 2, "SNAPBUS_EXPECT_SUBSCRIBERS": 2, "APP_KEEPALIVE_S": 1,
                               "AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH": "/lwa/before-checkpoint"},
                   emulator_args=["--while-frozen", "sleep 2"])
    function.wait_restored()
    statuses = []
    with function.client(timeout=30) as client:
        for _ in range(3):
            statuses += [client.get("/whoami").status_code for _ in range(4)]
            time.sleep(1.3)  # past the app's keep-alive timeout: it closes the adapter's idle connections
    assert statuses == [200] * len(statuses), f"{statuses}\n{function.output()}"

    requests = function.records("request")
    before = {r["client_port"] for r in requests if r["generation"] == 0}
    after = {r["client_port"] for r in requests if r["path"] == "/whoami"}
    assert before, "no connection to the app before the snapshot"
    assert not before & after, f"connections from before the snapshot were reused: ports {before & after}"
    assert function.stop() == 0, function.output()
    report = function.report()
    assert report["frozenMs"] >= 2000, report
    assert [i["status"] for i in report["invocations"]] == ["success"] * len(statuses), report
