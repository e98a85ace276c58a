"""The model server over real loopback HTTP: API, errors, limits, waiting for the model, Vertex AI
variables, gs:// model directories, JSON logs and draining on SIGTERM."""

import contextlib
import http.client
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from conftest import SAMPLE_EVAL, SAMPLE_TRAIN, TRAINING_DIR, free_port

os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")  # before gcsfs is imported

from trainer import csv_data, fs, predict, serve, task

MODEL_FILES = ["model.pt", "model_config.json", "preprocessing.json"]  # metrics.json comes last
SETTINGS_ENV = ["AIP_STORAGE_URI", "AIP_HTTP_PORT", "AIP_HEALTH_ROUTE", "AIP_PREDICT_ROUTE", "MODEL_DIR", "PORT",
                "SERVE_MAX_BODY_BYTES", "SERVE_MAX_INSTANCES", "SERVE_NUM_THREADS", "LOG_LEVEL"]  # fmt: skip


@pytest.fixture(autouse=True)
def _no_serving_environment(monkeypatch):
    for name in SETTINGS_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A 1-epoch model trained on the sample data, shared by every test here."""
    job_dir = tmp_path_factory.mktemp("job")
    with contextlib.redirect_stdout(io.StringIO()):
        task.main(["--train-files", str(SAMPLE_TRAIN), "--eval-files", str(SAMPLE_EVAL), "--num-epochs", "1",
                   "--job-dir", str(job_dir)])  # fmt: skip
    return str(job_dir / "model")


@pytest.fixture(scope="module")
def predictor(model_dir):
    return predict.load(model_dir)


@pytest.fixture(scope="module")
def eval_rows():
    return csv_data.read_csv(str(SAMPLE_EVAL)).drop_columns(["tip"]).to_pylist()


class ThreadServer:
    """trainer.serve's App on uvicorn in a background thread, on a free loopback port."""

    def __init__(self, *argv):
        self.args = serve.parse_args(["--host", "127.0.0.1", "--port", str(free_port()), *argv])
        self.port = self.args.port
        self.app = serve.App(self.args)
        self.server = serve.make_server(self.app, "127.0.0.1", self.port)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        wait_for(lambda: self.server.started, what="server start")
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=15)
        assert not self.thread.is_alive()

    def call(self, method, path, body=None, **options):
        return call(self.port, method, path, body, **options)


def call(port, method, path, body=None, headers=None, chunked=False):
    """(status, decoded JSON body, headers). `body`: bytes as they are, anything else as JSON."""
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        if chunked:
            connection.request(method, path, body=iter([body[i : i + 1000] for i in range(0, len(body), 1000)]),
                               headers=headers or {}, encode_chunked=True)  # fmt: skip
        else:
            connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        return response.status, (json.loads(data) if data else None), dict(response.getheaders())
    finally:
        connection.close()


def wait_for(condition, timeout=20, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def assert_predictions_match(predictions, expected):
    assert len(predictions) == len(expected)
    for prediction, probability in zip(predictions, expected):
        assert set(prediction) == {"tip_probability", "tip"}
        assert prediction["tip_probability"] == pytest.approx(probability, abs=1e-5)
        assert prediction["tip"] is (prediction["tip_probability"] >= 0.5)


@pytest.fixture(scope="module")
def server(model_dir):
    with ThreadServer("--model-dir", model_dir) as running:
        yield running


@pytest.fixture(scope="module")
def limited_server(model_dir):
    with ThreadServer("--model-dir", model_dir, "--max-body-bytes", "3000", "--max-instances", "3") as running:
        yield running


# --- the API ---------------------------------------------------------------------------------------


def test_health_reports_the_loaded_model(server, model_dir):
    assert server.call("GET", "/health")[:2] == (200, {"status": "ok", "model_dir": model_dir})


def test_predictions_equal_predict_rows(server, predictor, eval_rows):
    expected = predictor.predict_rows(eval_rows)
    status, answer, headers = server.call("POST", "/predict", {"instances": eval_rows})
    assert status == 200 and headers["content-type"] == "application/json"
    assert_predictions_match(answer["predictions"], expected)
    assert 0 < sum(p["tip"] for p in answer["predictions"]) < len(eval_rows)  # both answers occur


def test_concurrent_single_instance_requests_are_answered_in_order(server, predictor, eval_rows):
    chosen = eval_rows[:96]
    expected = predictor.predict_rows(chosen)
    results = [None] * len(chosen)

    def client(start):
        for i in range(start, len(chosen), 16):
            results[i] = server.call("POST", "/predict", {"instances": [chosen[i]]})

    threads = [threading.Thread(target=client, args=(start,)) for start in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(status == 200 for status, _, _ in results)
    assert_predictions_match([answer["predictions"][0] for _, answer, _ in results], expected)


def test_concurrent_requests_share_a_forward_pass(model_dir, predictor, eval_rows):
    requests = [eval_rows[i : i + 3] for i in range(0, 24, 3)]
    barrier = threading.Barrier(len(requests))
    answers = [None] * len(requests)
    with ThreadServer("--model-dir", model_dir, "--batch-wait-ms", "300", "--stats-seconds", "3600") as running:

        def client(i):
            barrier.wait()
            answers[i] = running.call("POST", "/predict", {"instances": requests[i]})

        threads = [threading.Thread(target=client, args=(i,)) for i in range(len(requests))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        batcher = running.app.batcher
        assert batcher.rows == 24 and batcher.batches < len(requests)  # counts since start: no summary yet
    for instances, (status, answer, _) in zip(requests, answers):
        assert status == 200
        assert_predictions_match(answer["predictions"], predictor.predict_rows(instances))


def test_values_as_strings_nulls_absent_and_extra_keys(server, predictor, eval_rows):
    row = next(r for r in eval_rows if all(v is not None for v in r.values()))
    as_strings = {k: str(v) for k, v in row.items()}
    with_extras = dict(row, tip=1, note={"any": ["thing"]})
    sparse = {"fare": 12.5, "trip_miles": None, "company": "", "payment_type": "Cash"}
    status, answer, _ = server.call("POST", "/predict", {"instances": [row, as_strings, with_extras, sparse, {}]})
    assert status == 200
    expected = predictor.predict_rows([row, row, row, {"fare": 12.5, "payment_type": "Cash"}, {}])
    assert_predictions_match(answer["predictions"], expected)


def test_no_instances_no_predictions(server):
    assert server.call("POST", "/predict", {"instances": []})[:2] == (200, {"predictions": []})


# --- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, message",
    [
        (b'{"instances": [', "invalid JSON: "),
        (b"", "invalid JSON: "),
        (b"\xff\xfe", "invalid JSON: "),
        ([{"fare": 1}], 'expected a JSON object {"instances": [{column: value, ...}, ...]}'),
        ({"rows": []}, 'expected a JSON object {"instances"'),
        ({"instances": {"fare": 1}}, '"instances" must be a list, got an object'),
        ({"instances": "fare=1"}, '"instances" must be a list, got a string'),
        ({"instances": [{}, 3]}, "instances[1]: expected an object keyed by column name, got a number"),
        ({"instances": [{}, {}, {"fare": "twelve"}]}, "instances[2].fare: 'twelve' is not a number"),
        ({"instances": [{"trip_miles": [1, 2]}]}, "instances[0].trip_miles: expected a number, got a list"),
        ({"instances": [{"company": {"name": "x"}}]}, "instances[0].company: expected a string, got an object"),
        ({"instances": [{"trip_start_hour": 7.5}]}, "instances[0].trip_start_hour: 7.5 is not an integer"),
        ({"instances": [{"payment_type": True}]}, "instances[0].payment_type: expected a string, got a boolean"),
        ({"instances": [{"pickup_latitude": 1e300}]}, "instances[0].pickup_latitude: 1e+300 is out of range"),
    ],
)
def test_bad_requests_get_400_naming_the_problem(server, body, message):
    status, answer, _ = server.call("POST", "/predict", body)
    assert status == 400
    assert set(answer) == {"error"} and answer["error"].startswith(message)
    assert server.call("GET", "/health")[1]["status"] == "ok"


def test_unknown_routes_and_wrong_methods(server):
    status, answer, _ = server.call("GET", "/nope")
    assert (status, answer) == (404, {"error": "no route /nope: use POST /predict or GET /health"})
    status, answer, headers = server.call("GET", "/predict")
    assert (status, answer, headers["allow"]) == (405, {"error": "GET not allowed on /predict: use POST"}, "POST")
    status, answer, headers = server.call("POST", "/health", b"{}")
    assert (status, headers["allow"]) == (405, "GET, HEAD") and "use GET" in answer["error"]
    assert server.call("HEAD", "/health")[0] == 200
    # A WebSocket upgrade is an HTTP request like any other: the app speaks HTTP only.
    upgrade = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}  # fmt: skip
    status, answer, _ = server.call("GET", "/predict", headers=upgrade)
    assert status == 405 and "use POST" in answer["error"]
    assert server.call("GET", "/health")[0] == 200


def test_limits_answer_413_and_the_server_goes_on(limited_server, predictor, eval_rows):
    too_long = {"instances": [eval_rows[0]], "padding": "x" * 4000}
    status, answer, headers = limited_server.call("POST", "/predict", too_long)
    assert status == 413 and answer == {"error": "request body over 3000 bytes"}
    assert headers["connection"] == "close"
    # Chunked, so without a Content-Length: counted while read. Sent whole, before the answer closes the connection.
    body = json.dumps(too_long).encode()
    pieces = [body[i : i + 1000] for i in range(0, len(body), 1000)]
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces)
    with socket.create_connection(("127.0.0.1", limited_server.port), timeout=10) as raw:
        raw.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n")
        response = b""
        while chunk := raw.recv(65536):
            response += chunk
    head, answer = response.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 413") and json.loads(answer) == {"error": "request body over 3000 bytes"}
    status, answer, _ = limited_server.call("POST", "/predict", {"instances": [{}] * 4})
    assert status == 413 and answer == {"error": "4 instances in one request; the limit is 3"}
    status, answer, _ = limited_server.call("POST", "/predict", {"instances": eval_rows[:3]}, chunked=True)
    assert status == 200
    assert_predictions_match(answer["predictions"], predictor.predict_rows(eval_rows[:3]))


# --- model loading ---------------------------------------------------------------------------------


def test_waits_for_the_model_then_loads_it(tmp_path, model_dir, predictor, eval_rows):
    target = tmp_path / "model"  # does not exist yet
    with ThreadServer("--model-dir", str(target), "--poll-seconds", "0.05") as running:
        status, health, _ = running.call("GET", "/health")
        assert status == 200 and health["status"] == "waiting"  # 200: Cloud Run's probes keep it up
        assert health["reason"] == f"{target / 'metrics.json'} does not exist yet (the trainer writes it last)"
        status, answer, _ = running.call("POST", "/predict", {"instances": [{}]})
        assert status == 503 and answer["error"] == f"model not loaded: {health['reason']}"

        target.mkdir()
        for name in MODEL_FILES:
            shutil.copy(os.path.join(model_dir, name), target / name)
        time.sleep(0.2)  # several polls: an incomplete directory is not loaded
        assert running.call("GET", "/health")[1]["status"] == "waiting"

        (target / "model.pt").write_bytes(b"not a torch file")  # damaged: reported, retried
        shutil.copy(os.path.join(model_dir, "metrics.json"), target / "metrics.json")
        wait_for(lambda: "failed" in running.call("GET", "/health")[1]["reason"], what="the load error")
        assert running.call("POST", "/predict", {"instances": [{}]})[0] == 503

        shutil.copy(os.path.join(model_dir, "model.pt"), target / "model.pt")
        wait_for(lambda: running.call("GET", "/health")[1]["status"] == "ok", what="the model")
        status, answer, _ = running.call("POST", "/predict", {"instances": eval_rows[:5]})
        assert status == 200
        assert_predictions_match(answer["predictions"], predictor.predict_rows(eval_rows[:5]))


class _OpensAFileWhenUnpickled:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return open, (self.path, "w")


def test_a_tampered_model_file_is_refused_not_run(tmp_path, model_dir):
    import torch

    target, marker = tmp_path / "model", tmp_path / "unpickled-the-payload"
    shutil.copytree(model_dir, target)
    torch.save({"weights": _OpensAFileWhenUnpickled(str(marker))}, target / "model.pt")
    with ThreadServer("--model-dir", str(target), "--poll-seconds", "0.05") as running:
        status, health, _ = running.call("GET", "/health")
        assert status == 200 and health["status"] == "waiting"
        assert health["reason"].startswith(f"loading {target} failed: ") and "refused to load" in health["reason"]
    assert not marker.exists()  # weights_only loading never ran the pickled call


def test_settings_from_arguments_then_vertex_then_cloud_run_variables(monkeypatch):
    with pytest.raises(SystemExit):
        serve.parse_args([])  # no model directory anywhere
    monkeypatch.setenv("MODEL_DIR", "gs://b/model")
    args = serve.parse_args([])
    assert (args.model_dir, args.host, args.port, args.num_threads) == ("gs://b/model", "0.0.0.0", 8080, 1)
    assert args.health_routes == {"/health"} and args.predict_routes == {"/predict"}
    monkeypatch.setenv("PORT", "9000")
    assert serve.parse_args([]).port == 9000
    monkeypatch.setenv("AIP_STORAGE_URI", "gs://vertex/model")
    monkeypatch.setenv("AIP_HTTP_PORT", "7080")
    monkeypatch.setenv("AIP_HEALTH_ROUTE", "/v1/health")
    monkeypatch.setenv("AIP_PREDICT_ROUTE", "/v1/endpoints/1/deployedModels/2:predict")
    args = serve.parse_args([])
    assert (args.model_dir, args.port) == ("gs://vertex/model", 7080)
    assert args.health_routes == {"/health", "/v1/health"}
    assert args.predict_routes == {"/predict", "/v1/endpoints/1/deployedModels/2:predict"}
    args = serve.parse_args(["--model-dir", "/local/model", "--port", "1234", "--num-threads", "2"])
    assert (args.model_dir, args.port, args.num_threads) == ("/local/model", 1234, 2)


@pytest.mark.parametrize(
    "variable, value, flag",
    [("SERVE_MAX_BATCH_SIZE", "abc", "--max-batch-size"), ("PORT", "8080x", "--port"),
     ("SERVE_NUM_THREADS", "0", "--num-threads")],
)  # fmt: skip
def test_a_bad_setting_is_a_usage_error_naming_it(monkeypatch, capsys, variable, value, flag):
    monkeypatch.setenv("MODEL_DIR", "/local/model")
    monkeypatch.setenv(variable, value)
    with pytest.raises(SystemExit) as exited:
        serve.parse_args([])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert f"argument {flag}" in error and repr(value) in error and "Traceback" not in error


def test_vertex_routes_and_storage_uri(monkeypatch, model_dir, predictor, eval_rows):
    monkeypatch.setenv("AIP_STORAGE_URI", model_dir)
    monkeypatch.setenv("AIP_HEALTH_ROUTE", "/v1/health")
    monkeypatch.setenv("AIP_PREDICT_ROUTE", "/v1/endpoints/1/deployedModels/2:predict")
    with ThreadServer() as running:
        assert running.call("GET", "/v1/health")[:2] == (200, {"status": "ok", "model_dir": model_dir})
        status, answer, _ = running.call("POST", "/v1/endpoints/1/deployedModels/2:predict",
                                         {"instances": eval_rows[:4], "parameters": {}})  # fmt: skip
        assert status == 200
        assert_predictions_match(answer["predictions"], predictor.predict_rows(eval_rows[:4]))
        assert running.call("POST", "/predict", {"instances": eval_rows[:1]})[0] == 200


@pytest.fixture(scope="module")
def emulator():
    from gcp_storage_emulator.server import create_server

    port = free_port()
    storage = create_server("127.0.0.1", port, in_memory=True, default_bucket="serve-test")
    storage.start()
    yield f"http://127.0.0.1:{port}"
    storage.stop()


def test_gcs_model_dir_waited_for_then_served(emulator, monkeypatch, model_dir, predictor, eval_rows):
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulator)
    monkeypatch.setattr(fs, "_gcs_filesystem", None)
    target = "gs://serve-test/jobs/1/model"
    for name in MODEL_FILES:
        fs.write_bytes_atomic(f"{target}/{name}", open(os.path.join(model_dir, name), "rb").read())
    try:
        with ThreadServer("--model-dir", target, "--poll-seconds", "0.05") as running:
            status, health, _ = running.call("GET", "/health")
            assert status == 200 and health["status"] == "waiting" and f"{target}/metrics.json" in health["reason"]
            fs.write_bytes_atomic(f"{target}/metrics.json", open(os.path.join(model_dir, "metrics.json"), "rb").read())
            wait_for(lambda: running.call("GET", "/health")[1]["status"] == "ok", what="the gs:// model")
            status, answer, _ = running.call("POST", "/predict", {"instances": eval_rows[:10]})
            assert status == 200
            assert_predictions_match(answer["predictions"], predictor.predict_rows(eval_rows[:10]))
    finally:
        fs._gcs().invalidate_cache()


# --- the real command: JSON logs, SIGTERM -------------------------------------------------------------


class ServerProcess:
    """python -m trainer.serve in a subprocess; stdout lines collected as they come."""

    def __init__(self, *argv, env=None):
        self.port = free_port()
        environment = {k: v for k, v in os.environ.items() if k not in SETTINGS_ENV} | (env or {})
        self.process = subprocess.Popen([sys.executable, "-m", "trainer.serve", "--host", "127.0.0.1", *argv],
                                        cwd=TRAINING_DIR, env=environment | {"PORT": str(self.port)},
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
        self.lines = []
        self.reader = threading.Thread(target=lambda: self.lines.extend(self.process.stdout), daemon=True)
        self.reader.start()
        wait_for(self.healthy, timeout=60, what=f"the server process; output: {self.lines}")

    def healthy(self):
        assert self.process.poll() is None, "".join(self.lines)
        try:
            return call(self.port, "GET", "/health")[0] == 200
        except OSError:
            return False

    def logs(self):
        return [json.loads(line) for line in list(self.lines) if line.strip()]

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)


def test_command_logs_json_lines_and_drains_in_flight_requests_on_sigterm(model_dir, eval_rows):
    server = ServerProcess("--log-level", "DEBUG", "--stats-seconds", "0.3", env={"MODEL_DIR": model_dir})
    try:
        for row in eval_rows[:3]:
            assert call(server.port, "POST", "/predict", {"instances": [row]})[0] == 200
        assert call(server.port, "POST", "/predict", b"{")[0] == 400

        def lines(prefix):
            return [line for line in server.logs() if line["message"].startswith(prefix)]

        # One DEBUG line per request (the health checks above included); INFO summaries cover them all.
        wait_for(lambda: sum(line["requests"] for line in lines("served")) == len(lines(("GET ", "POST "))),
                 what="summaries of every request")  # fmt: skip
        logs = server.logs()  # every line is JSON with severity and message (Cloud Logging's fields)
        assert all(line["severity"] in {"DEBUG", "INFO", "WARNING", "ERROR"} and line["message"] for line in logs)
        predict_lines = lines("POST /predict")
        assert [line["message"] for line in predict_lines] == ["POST /predict 200"] * 3 + ["POST /predict 400"]
        assert all(line["severity"] == "DEBUG" and line["latency_ms"] > 0 for line in lines(("GET ", "POST ")))
        summaries = lines("served")
        assert all(line["severity"] == "INFO" and 0 < line["p50_ms"] <= line["p99_ms"] <= line["max_ms"]
                   for line in summaries)  # fmt: skip
        assert sum(line["statuses"].get("400", 0) for line in summaries) == 1
        assert sum(line["instances"] for line in summaries) == 3

        # A request whose body is half sent when SIGTERM arrives is still answered, then the process exits 0.
        body = json.dumps({"instances": [eval_rows[0]]}).encode()
        in_flight = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        in_flight.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:10])
        time.sleep(0.3)
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        with pytest.raises(ConnectionRefusedError):  # no new connections while draining
            socket.create_connection(("127.0.0.1", server.port), timeout=5)
        assert server.process.poll() is None  # still draining the request
        in_flight.sendall(body[10:])
        response = b""
        while chunk := in_flight.recv(65536):  # the server closes the connection after answering
            response += chunk
        in_flight.close()
        head, answer = response.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 200") and len(json.loads(answer)["predictions"]) == 1
        assert server.process.wait(timeout=15) == 0
        server.reader.join(timeout=5)
        messages = [line["message"] for line in server.logs()]
        assert messages.index("Shutting down") < messages.index("stopped: in-flight requests finished")
    finally:
        server.stop()
