"""Serving benchmark, side by side in one run:
  (a) trainer.serve (micro-batched, pyarrow-free row encoding)
  (b) a constant-answer server on the same HTTP stack (uvicorn + uvloop + httptools): the ceiling
  (c) a naive FastAPI server calling Predictor.predict_rows per request

    cd training && python bench/bench_serve.py [--seconds 5] [--rounds 3] [--connections 32]

Not a test: figures depend on the machine. Each server is its own process on 127.0.0.1; one
keep-alive load generator (asyncio + httptools, N connections, one instance per request, a new
request as soon as the previous answer arrives) measures them in turn for a bounded time,
alternating rounds so that background noise hits all three; each server keeps its best round.
Needs fastapi (requirements-test.txt); trains a 1-epoch model on the sample data unless --model-dir.
"""

import argparse
import asyncio
import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

TRAINING_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TRAINING_DIR))

import httptools  # noqa: E402
import orjson  # noqa: E402

from trainer import csv_data, serve  # noqa: E402

SAMPLE = TRAINING_DIR / "data" / "sample"
GOALS = "goals: throughput >= 0.3 x ceiling; p99 <= 4 x ceiling p99 + 10 ms"


# --- the servers (b) and (c); (a) is `python -m trainer.serve` -------------------------------------


async def constant_app(scope, receive, send):
    """Reads the request, answers a fixed prediction: everything but the model."""
    answer = orjson.dumps({"predictions": [{"tip_probability": 0.5, "tip": True}]})
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    while (await receive()).get("more_body"):
        pass
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(answer)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


def naive_app(model_dir):
    """The tutorial pattern: FastAPI, a sync endpoint, the Predictor's table path per request."""
    from fastapi import FastAPI

    from trainer import predict

    predictor = predict.load(model_dir)
    app = FastAPI()

    @app.get("/health")
    def health():
        return {"status": "ok"}

    @app.post("/predict")
    def predict_endpoint(body: dict):
        probabilities = predictor.predict_rows(body["instances"])
        return {"predictions": [{"tip_probability": p, "tip": p >= 0.5} for p in probabilities]}

    return app


def run_server(role, port, model_dir):
    import torch
    import uvicorn

    torch.set_num_threads(1)  # as trainer.serve: the comparison is about the request path
    if role == "constant":
        serve.make_server(constant_app, "127.0.0.1", port).run()
    else:
        uvicorn.run(naive_app(model_dir), host="127.0.0.1", port=port, log_level="warning")


# --- the load generator --------------------------------------------------------------------------


class Connection(asyncio.Protocol):
    """One keep-alive connection sending the next request as soon as the previous answer is complete."""

    def __init__(self, requests, offset, deadline, latencies, statuses, done):
        self.requests, self.next, self.deadline = requests, offset, deadline
        self.latencies, self.statuses, self.done = latencies, statuses, done
        self.parser = httptools.HttpResponseParser(self)

    def connection_made(self, transport):
        self.transport = transport
        self.send()

    def send(self):
        request = self.requests[self.next % len(self.requests)]
        self.next += 1
        self.started = time.perf_counter()
        self.transport.write(request)

    def data_received(self, data):
        self.parser.feed_data(data)

    def on_message_complete(self):
        now = time.perf_counter()
        self.latencies.append(now - self.started)
        status = self.parser.get_status_code()
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if now < self.deadline:
            self.send()
        else:
            self.transport.close()

    def connection_lost(self, exc):
        if not self.done.done():
            self.done.set_result(exc)


async def load(port, requests, connections, seconds):
    loop = asyncio.get_running_loop()
    latencies, statuses = [], {}
    started = time.perf_counter()
    deadline = started + seconds
    done = [loop.create_future() for _ in range(connections)]
    for i in range(connections):
        args = (requests, i * 31, deadline, latencies, statuses, done[i])
        await loop.create_connection(lambda args=args: Connection(*args), "127.0.0.1", port)
    await asyncio.wait_for(asyncio.gather(*done), timeout=seconds + 30)
    elapsed = time.perf_counter() - started
    latencies.sort()

    def percentile(q):
        return 1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))]

    return {"rps": len(latencies) / elapsed, "p50": percentile(0.5), "p99": percentile(0.99), "statuses": statuses}


def cpu_seconds(pid):
    """User + system CPU time of a process so far (Linux /proc), all its threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_load(port, requests, connections, seconds, server_pid):
    """Throughput and latency as the client sees them, and the server's CPU time per request: the
    figure least disturbed by other work on a shared machine."""
    import uvloop

    cpu_before = cpu_seconds(server_pid)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        result = runner.run(load(port, requests, connections, seconds))
    result["cpu_us"] = 1e6 * (cpu_seconds(server_pid) - cpu_before) / sum(result["statuses"].values())
    return result


def single_instance_requests():
    table = csv_data.read_csv(str(SAMPLE / "eval.csv"), require_label=False).drop_columns(["tip"])
    requests = []
    for row in table.to_pylist():
        body = orjson.dumps({"instances": [row]})
        head = "POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        requests.append(head.encode() + b"Content-Length: %d\r\n\r\n" % len(body) + body)
    return requests


# --- the run --------------------------------------------------------------------------------------


def wait_healthy(port, process, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as response:
                if json.loads(response.read()).get("status", "ok") == "ok":  # the constant server: any answer
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server on port {port} not healthy after {timeout} s")


def train_tiny_model(directory):
    from trainer import task

    with contextlib.redirect_stdout(io.StringIO()):
        task.main(["--train-files", str(SAMPLE / "train.csv"), "--eval-files", str(SAMPLE / "eval.csv"),
                   "--num-epochs", "1", "--job-dir", directory])  # fmt: skip
    return os.path.join(directory, "model")


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per server and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--model-dir", help="default: train a 1-epoch model on the sample data")
    parser.add_argument("--serve-args", default="", help="extra trainer.serve options, e.g. '--batch-wait-ms 1'")
    parser.add_argument("--role", choices=["constant", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role:
        return run_server(args.role, args.port, args.model_dir)

    with tempfile.TemporaryDirectory() as scratch:
        model_dir = args.model_dir or train_tiny_model(scratch)
        python = [sys.executable]
        servers = {
            "(a) trainer.serve": python + ["-m", "trainer.serve", "--model-dir", model_dir, "--host", "127.0.0.1",
                                           "--log-level", "WARNING"] + args.serve_args.split(),
            "(b) constant answer (ceiling)": python + [__file__, "--role", "constant"],
            "(c) naive FastAPI + predict_rows": python + [__file__, "--role", "naive", "--model-dir", model_dir],
        }  # fmt: skip
        ports, processes = {}, {}
        try:
            for name, command in servers.items():
                ports[name] = free_port()
                command = command + ["--port", str(ports[name])]
                processes[name] = subprocess.Popen(command, cwd=TRAINING_DIR, stdout=subprocess.DEVNULL)
            for name in servers:
                wait_healthy(ports[name], processes[name])
            requests = single_instance_requests()
            best = {}
            for name in servers:  # warm-up
                run_load(ports[name], requests, args.connections, min(1.0, args.seconds), processes[name].pid)
            for round_number in range(args.rounds):
                for name in servers:
                    result = run_load(ports[name], requests, args.connections, args.seconds, processes[name].pid)
                    print(f"round {round_number + 1} {name}: {result['rps']:,.0f} requests/s, "
                          f"p50 {result['p50']:.2f} ms, p99 {result['p99']:.2f} ms, "
                          f"server CPU {result['cpu_us']:.0f} us/request, {result['statuses']}")  # fmt: skip
                    if name not in best or result["rps"] > best[name]["rps"]:
                        best[name] = result
        finally:
            for process in processes.values():
                process.send_signal(signal.SIGTERM)
            for process in processes.values():
                process.wait(timeout=30)
    report(best, args)


def report(best, args):
    (a, ceiling, naive) = best.values()
    print(f"\n{args.connections} connections, single-instance requests, best of {args.rounds} rounds of "
          f"{args.seconds:g} s\n")  # fmt: skip
    print("| server | requests/s | p50 ms | p99 ms | server CPU us/request |\n| --- | --- | --- | --- | --- |")
    for name, result in best.items():
        print(f"| {name} | {result['rps']:,.0f} | {result['p50']:.2f} | {result['p99']:.2f} | {result['cpu_us']:.0f} |")
    p99_limit = 4 * ceiling["p99"] + 10
    print(f"\nthroughput: {a['rps'] / ceiling['rps']:.2f} x ceiling; {a['rps'] / naive['rps']:.1f} x naive")
    print(f"p99: {a['p99']:.2f} ms vs limit {p99_limit:.2f} ms (4 x ceiling p99 + 10 ms); naive p99 "
          f"{naive['p99'] / a['p99']:.1f} x ours")  # fmt: skip
    met = a["rps"] >= 0.3 * ceiling["rps"] and a["p99"] <= p99_limit
    print(f"{GOALS}: {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
