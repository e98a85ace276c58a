"""Model server: python -m trainer.serve --model-dir DIR [--host 0.0.0.0] [--port 8080]

GET /health   -> 200 {"status": "ok", ...} once the model is loaded, 200 {"status": "waiting", ...} before
POST /predict {"instances": [{column: value, ...}, ...]}
              -> 200 {"predictions": [{"tip_probability": p, "tip": p >= 0.5}, ...]}
Errors: 400/413/404/405/503 with {"error": "..."}. Also answers on $AIP_HEALTH_ROUTE and
$AIP_PREDICT_ROUTE (Vertex AI prediction). The model directory may still be empty when the server
starts (a Cloud Run service declared together with the training job): it is polled until
metrics.json, which the trainer writes last, appears.

One process, one event loop (uvicorn, uvloop and httptools): requests are parsed with orjson and
flat per-row lookups (trainer.rows), and concurrent requests share a forward pass (trainer.batching).
"""

import argparse
import asyncio
import gc
import logging
import os
import signal
import sys
import time

import orjson
import torch
import uvicorn

from trainer import fs, predict, rows
from trainer.batching import MicroBatcher
from trainer.latency import LatencyStats

log = logging.getLogger("trainer.serve")
COMPLETE_MARKER = "metrics.json"  # written last by trainer.task: its presence means a complete model
JSON = [(b"content-type", b"application/json")]


def positive(kind):
    """An argparse type: a number above zero."""

    def parse(text):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text!r} is not above zero")
        return value

    parse.__name__ = f"positive {kind.__name__}"
    return parse


def parse_args(argv=None):
    # Settings from the environment are argparse defaults given as text: argparse checks them with the same
    # `type` as the flag, so a bad $SERVE_… is a usage error naming it, not a traceback.
    env = os.environ
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", default=env.get("AIP_STORAGE_URI") or env.get("MODEL_DIR"),
                        help="local, /gcs/... or gs://...; default $AIP_STORAGE_URI, else $MODEL_DIR")  # fmt: skip
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=positive(int), default=env.get("AIP_HTTP_PORT") or env.get("PORT") or "8080",
                        help="default $AIP_HTTP_PORT, else $PORT, else 8080")  # fmt: skip
    parser.add_argument("--num-threads", type=positive(int), default=env.get("SERVE_NUM_THREADS", "1"),
                        help="torch CPU threads ($SERVE_NUM_THREADS)")  # fmt: skip
    parser.add_argument("--max-batch-size", type=positive(int), default=env.get("SERVE_MAX_BATCH_SIZE", "256"),
                        help="rows per forward pass (one larger request still runs whole)")  # fmt: skip
    parser.add_argument("--batch-wait-ms", type=float, default=env.get("SERVE_BATCH_WAIT_MS", "0"),
                        help="longest wait for more requests to batch (0: the event loop's next turn)")  # fmt: skip
    parser.add_argument("--max-body-bytes", type=positive(int), default=env.get("SERVE_MAX_BODY_BYTES", str(1 << 20)))
    parser.add_argument("--max-instances", type=positive(int), default=env.get("SERVE_MAX_INSTANCES", "1000"))
    parser.add_argument("--poll-seconds", type=positive(float), default=env.get("SERVE_POLL_SECONDS", "10"),
                        help="how often an incomplete model directory is checked again")  # fmt: skip
    parser.add_argument("--stats-seconds", type=positive(float), default=env.get("SERVE_STATS_SECONDS", "60"),
                        help="interval of the INFO latency summary")  # fmt: skip
    parser.add_argument("--drain-seconds", type=int, default=env.get("SERVE_DRAIN_SECONDS", "8"),
                        help="on SIGTERM, how long in-flight requests may take (Cloud Run allows 10 s)")  # fmt: skip
    parser.add_argument("--log-level", default=env.get("LOG_LEVEL", "INFO"), help="DEBUG: one line per request")
    args = parser.parse_args(argv)
    if not args.model_dir:
        parser.error("--model-dir (or $AIP_STORAGE_URI or $MODEL_DIR) is required")
    args.health_routes = {"/health", env.get("AIP_HEALTH_ROUTE") or "/health"}
    args.predict_routes = {"/predict", env.get("AIP_PREDICT_ROUTE") or "/predict"}
    return args


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: Cloud Logging reads `severity` and `message` from it."""

    def format(self, record):
        entry = {"severity": record.levelname, "message": record.getMessage(), "logger": record.name}
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure_logging(level):
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    # DEBUG is for this server's request lines only, not every library's (fsspec, gcsfs, asyncio).
    root.setLevel(max(logging.getLevelName(level.upper()), logging.INFO))
    logging.getLogger("trainer").setLevel(level.upper())


class HttpError(Exception):
    def __init__(self, status, message, headers=()):
        super().__init__(message)
        self.status, self.headers = status, list(headers)


class ModelSlot:
    """The predictor once the model directory is complete, and why not while it is not."""

    def __init__(self, model_dir):
        self.model_dir = model_dir
        self.predictor = None
        self.reason = "not checked yet"

    def try_load(self):
        """Blocking (file system, torch.load): called in a worker thread. True once loaded."""
        try:
            if COMPLETE_MARKER not in fs.listdir(self.model_dir):
                marker = fs.join(self.model_dir, COMPLETE_MARKER)
                self.reason = f"{marker} does not exist yet (the trainer writes it last)"
                return False
            predictor = predict.load(self.model_dir)
            metrics = orjson.loads(fs.read_bytes(fs.join(self.model_dir, COMPLETE_MARKER)))
            # One prediction before saying "ok": proves the model runs, and warms torch up for the first request.
            predictor.predict_encoded(*predictor.row_encoder.encode([predictor.row_encoder.parse(0, {})]))
        except Exception as error:  # e.g. no access yet, a damaged file: report it and try again later
            reason = f"loading {self.model_dir} failed: {type(error).__name__}: {error}"
            if reason != self.reason:  # once, not at every poll
                log.error(reason)
            self.reason = reason
            return False
        # Everything alive now (torch, the model) lives as long as the process: keep it out of the cyclic
        # garbage collector's full passes, each of which would otherwise stall every request ~0.1 s.
        gc.collect()
        gc.freeze()
        self.predictor = predictor
        log.info(f"loaded the model from {self.model_dir}",
                 extra={"fields": {k: metrics.get(k) for k in ("eval_accuracy", "eval_auc", "epochs")}})  # fmt: skip
        return True


class App:
    """The ASGI application (a bare one: a framework's routing and validation would cost more than the model)."""

    def __init__(self, args):
        self.args = args
        self.model = ModelSlot(args.model_dir)
        self.batcher = MicroBatcher(self._run_batch, args.max_batch_size, args.batch_wait_ms / 1000)
        self.stats = LatencyStats()
        self._background = []

    def _run_batch(self, parsed):
        predictor = self.model.predictor
        return predictor.predict_encoded(*predictor.row_encoder.encode(parsed)).tolist()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            await self.http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self.lifespan(receive, send)

    async def http(self, scope, receive, send):
        started = time.perf_counter()
        path, method = scope["path"], scope["method"]
        headers, instances = JSON, 0
        try:
            if path in self.args.predict_routes:
                if method != "POST":
                    raise HttpError(405, f"{method} not allowed on {path}: use POST", [(b"allow", b"POST")])
                body, instances = await self.predict(scope, receive)
            elif path in self.args.health_routes:
                if method not in ("GET", "HEAD"):
                    raise HttpError(405, f"{method} not allowed on {path}: use GET", [(b"allow", b"GET, HEAD")])
                body = self.health()
            else:
                raise HttpError(404, f"no route {path}: use POST /predict or GET /health")
            status = 200
        except HttpError as error:
            status, headers = error.status, JSON + error.headers
            body = orjson.dumps({"error": str(error)})
        except Exception as error:  # a bug, not the client's fault: say so, log it, keep serving
            log.exception("request failed")
            status, body = 500, orjson.dumps({"error": f"internal error: {type(error).__name__}"})
        await send({"type": "http.response.start", "status": status,
                    "headers": headers + [(b"content-length", str(len(body)).encode())]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})
        seconds = time.perf_counter() - started
        self.stats.record(seconds, status, instances)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(f"{method} {path} {status}",
                      extra={"fields": {"latency_ms": round(1000 * seconds, 3), "instances": instances}})  # fmt: skip

    def health(self):
        if self.model.predictor is None:
            # 200, not 503: Cloud Run restarts a container whose startup or liveness probe fails, and this
            # one must stay up while the training job that writes the model runs (/predict says 503).
            return orjson.dumps({"status": "waiting", "reason": self.model.reason, "model_dir": self.args.model_dir})
        return orjson.dumps({"status": "ok", "model_dir": self.args.model_dir})

    async def predict(self, scope, receive):
        body = await read_body(scope, receive, self.args.max_body_bytes)
        predictor = self.model.predictor
        if predictor is None:
            raise HttpError(503, f"model not loaded: {self.model.reason}")
        try:
            request = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise HttpError(400, f"invalid JSON: {error}") from None
        if type(request) is not dict or "instances" not in request:
            raise HttpError(400, 'expected a JSON object {"instances": [{column: value, ...}, ...]}')
        instances = request["instances"]
        if type(instances) is not list:
            raise HttpError(400, f'"instances" must be a list, got {rows.json_type(instances)}')
        if len(instances) > self.args.max_instances:
            raise HttpError(413, f"{len(instances)} instances in one request; the limit is {self.args.max_instances}")
        parse = predictor.row_encoder.parse
        try:
            parsed = [parse(i, instance) for i, instance in enumerate(instances)]
        except rows.InstanceError as error:
            raise HttpError(400, str(error)) from None
        probabilities = await self.batcher.submit(parsed) if parsed else []
        predictions = [{"tip_probability": p, "tip": p >= 0.5} for p in probabilities]
        return orjson.dumps({"predictions": predictions}), len(parsed)

    async def lifespan(self, receive, send):
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # A complete model is loaded before the port opens, so no request ever sees "waiting" for it.
                if not await asyncio.to_thread(self.model.try_load):
                    log.warning(f"waiting for the model: {self.model.reason}")
                    self._background.append(asyncio.create_task(self.watch_model()))
                self._background.append(asyncio.create_task(self.report_stats()))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for task in self._background:
                    task.cancel()
                self.log_summary()
                log.info("stopped: in-flight requests finished")
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def watch_model(self):
        while not await asyncio.to_thread(self.model.try_load):
            await asyncio.sleep(self.args.poll_seconds)

    async def report_stats(self):
        while True:
            await asyncio.sleep(self.args.stats_seconds)
            self.log_summary()

    def log_summary(self):
        summary = self.stats.take_summary()
        if summary is not None:
            batches, batched_rows = self.batcher.take_counts()
            summary.update(batches=batches, mean_batch_rows=round(batched_rows / max(batches, 1), 1))
            log.info(f"served {summary['requests']} requests, p50 {summary['p50_ms']} ms, p99 {summary['p99_ms']} ms",
                     extra={"fields": summary})  # fmt: skip


async def read_body(scope, receive, limit):
    """The request body, or 413 once it is longer than `limit` (before reading it when Content-Length says so)."""
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value) > limit:
            raise _body_too_large(limit)
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise HttpError(400, "client disconnected")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _body_too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _body_too_large(limit):
    # The rest of the body is not read: close the connection rather than parse it as the next request.
    return HttpError(413, f"request body over {limit} bytes", [(b"connection", b"close")])


def make_server(app, host, port, drain_seconds=8):
    """The HTTP stack (the benchmark's constant-answer ceiling runs on this same one)."""
    # ws="none": the app speaks HTTP only; a WebSocket upgrade is then an HTTP request it answers (405/404).
    config = uvicorn.Config(app, host=host, port=port, loop="auto", http="auto", ws="none", interface="asgi3",
                            lifespan="on", log_config=None, access_log=False, proxy_headers=False,
                            timeout_graceful_shutdown=drain_seconds)  # fmt: skip
    return uvicorn.Server(config)


def main(argv=None):
    args = parse_args(argv)
    configure_logging(args.log_level)
    torch.set_num_threads(args.num_threads)
    log.info(f"serving {args.model_dir} on {args.host}:{args.port}",
             extra={"fields": {k: v for k, v in vars(args).items() if not k.endswith("routes")}
                    | {"routes": sorted(args.health_routes | args.predict_routes)}})  # fmt: skip
    # uvicorn drains in-flight requests on SIGTERM, then raises the signal again: exit 0 then, not 143.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    make_server(App(args), args.host, args.port, args.drain_seconds).run()


if __name__ == "__main__":
    main()
