"""A fake OpenAI + Anthropic HTTP API on 127.0.0.1 that the real SDKs talk to through ``base_url``.

    with FakeAPIServer(latency=0.05) as server:
        openai.OpenAI(api_key="test-key", base_url=f"{server.url}/v1")
        anthropic.Anthropic(api_key="test-key", base_url=server.url)

Standalone (benchmarks): ``python tests/fakes/fakeapi.py --port 0 --latency 0.2`` prints the URL, serves until killed;
``--rate-requests N --rate-tokens N --rate-window SECONDS`` add the providers' rate limits (fakeapi_ratelimit.py);
``--slots N --service SECONDS [--ctx-size N]`` make it answer like llama-server (fakeapi_llama.py).
Answers come from fakeapi_answer.py, wire formats from fakeapi_wire.py, batches from fakeapi_batches.py.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

if str(Path(__file__).parent) not in sys.path:  # the sibling modules, also when imported from benchmarks/
    sys.path.insert(0, str(Path(__file__).parent))

import fakeapi_wire as wire
from fakeapi_answer import answer, dumps, parse_anthropic, parse_openai, product_titles, tokens
from fakeapi_batches import Batches
from fakeapi_llama import Slots, context_error, llama_completion
from fakeapi_malformed import damage
from fakeapi_ratelimit import RateLimiter, RateLimits, error_body
from fakeapi_wire import Fault, Meter, Reply, anthropic_error, openai_error

SECRET_HEADERS = ("authorization", "x-api-key", "api-key", "proxy-authorization")
BROKEN_JSON = b'{"id": "chatcmpl-broken", "choices": ['
DEFAULT_PROBABILITY = 0.99


class FakeAPIServer:
    """The fake API; set ``labels``, ``default_label``, ``faults``, ``fault_fn`` and the batch knobs freely."""

    def __init__(self, *, api_key: str = "test-key", latency: float = 0.0, cache_min_tokens: int = 1024,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.api_key, self.latency, self.host, self.port = api_key, latency, host, port
        self.meter = Meter(cache_min_tokens)
        self.labels: dict[str, tuple[str, str]] = {}
        self.default_label: tuple[str, str] | None = None
        # With `logprobs: true` (OpenAI): title -> the probability of its answer's number (default DEFAULT_PROBABILITY).
        self.answer_probabilities: dict[str, float] = {}
        # (category id, subcategory id) in document order: subcategory number k is index + 1. Lets ``labels``
        # answer prompts that number the subcategories (names only, no ids).
        self.taxonomy_pairs: list[tuple[str, str]] = []
        self.faults: list[Fault | None] = []
        self.fault_fn: Callable[[int, dict[str, Any]], Fault | None] | None = None
        self.requests: list[dict[str, Any]] = []
        self.usage_log: list[dict[str, Any]] = []
        self.errors: list[str] = []  # tracebacks of bugs in the fake itself (answered with 500)
        self.disconnects: list[dict[str, Any]] = []  # answers the client hung up on: {path, sent, size}
        self.batch_polls_to_finish = 2
        self.batch_item_faults: dict[str, str] = {}
        self.batch_expire = False
        self.batches = Batches(self, self._answer_batch_item)
        self.model_calls = 0
        # Every model call answered, in order: {"index", "path", "fault", "variant", "status"} (the fake's own log).
        self.served: list[dict[str, Any]] = []
        self.hold_from: int | None = None  # ``hold()``: model calls from this index on wait for ``release()``
        self._released = threading.Event()
        self._held = threading.Condition()
        self.held = 0
        self.rate: RateLimiter | None = None  # set with ``limit_rate``
        self.slots: Slots | None = None  # set with ``like_llama_server``: OpenAI calls queue for a slot
        self.context_size: int | None = None  # OpenAI calls with a longer prompt get llama-server's HTTP 400
        self.llama = False  # OpenAI answers in llama-server's shape (no x-request-id, timings, ...)
        self.timings = True  # ... with its ``timings`` (the server's own time for the request)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def cache_min_tokens(self) -> int:
        return self.meter.cache_min_tokens

    @cache_min_tokens.setter
    def cache_min_tokens(self, value: int) -> None:
        self.meter.cache_min_tokens = value

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("FakeAPIServer is not started")
        return f"http://{self.host}:{self._httpd.server_address[1]}"

    def start(self) -> FakeAPIServer:
        if self._httpd is not None:
            raise RuntimeError("FakeAPIServer already started")
        self._httpd = _HTTPServer((self.host, self.port), _Handler)
        self._httpd.app = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="fakeapi", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            assert self._thread is not None
            self._thread.join(timeout=5)
            self._httpd = self._thread = None

    def __enter__(self) -> FakeAPIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def limit_rate(self, requests: int | None = None, tokens: int | None = None, window: float = 60.0, *,
                   headers: bool = True) -> RateLimiter:
        """Rate-limit model calls from now on: buckets of ``requests`` and ``tokens`` per ``window`` seconds."""
        self.rate = RateLimiter(RateLimits(requests, tokens, window, headers))
        return self.rate

    def like_llama_server(self, slots: int = 1, service: float = 0.05, context_size: int | None = None, *,
                          timings: bool = True) -> Slots:
        """Answer OpenAI calls as llama-server with ``--parallel slots``: each holds a slot for ``service``
        seconds, the others queue; answers in its shape (``timings=False``: without its ``timings``); no
        rate-limit headers; a prompt of more than ``context_size`` tokens (the fake's count) gets its HTTP 400
        ``exceed_context_size_error``."""
        self.slots, self.context_size, self.llama, self.timings = Slots(slots, service), context_size, True, timings
        return self.slots

    def hold(self, from_index: int = 0) -> None:
        """Model calls number ``from_index`` (0-based, in arrival order) and later are received, answered and
        logged in ``served``, but their answers are held back until ``release()``."""
        self._released.clear()
        self.hold_from = from_index

    def release(self) -> None:
        """Send every held answer (and answer those to come at once)."""
        self.hold_from = None
        self._released.set()

    def wait_held(self, count: int, timeout: float = 60.0) -> None:
        """Block until ``count`` calls are held (an event, not a guess at seconds); AssertionError on timeout."""
        with self._held:
            if not self._held.wait_for(lambda: self.held >= count, timeout=timeout):
                raise AssertionError(f"only {self.held} of {count} calls reached the fake API")

    def requests_to(self, path: str) -> list[dict[str, Any]]:
        """The recorded requests whose path is ``path`` (retries included)."""
        return [r for r in self.requests if r["path"] == path]

    def total_usage(self, provider: str | None = None) -> dict[str, int]:
        """Summed usage of every 200 answer (batch items included); input_tokens includes cached and cache writes."""
        keys = ("input_tokens", "output_tokens", "cached_tokens", "cache_write_tokens")
        entries = [e for e in list(self.usage_log) if provider in (None, e["provider"])]
        return {**{k: sum(e[k] for e in entries) for k in keys}, "calls": len(entries)}

    # -- request handling (called from handler threads) -----------------------------------------------
    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Reply:
        url = urlsplit(target)
        path, query = url.path, dict(parse_qsl(url.query))
        provider = "anthropic" if path.startswith("/v1/messages") else "openai"
        rid = f"req_fake{next(self._ids):06d}"
        body = _json_or_none(raw) if "json" in headers.get("content-type", "") else None
        record = {"method": method, "path": path, "query": query, "json": body,
                  "headers": {k: "<redacted>" if k in SECRET_HEADERS else v for k, v in headers.items()}}
        with self._lock:
            self.requests.append(record)
        try:
            reply = self._route(method, path, query, headers, raw, body, provider, rid)
        except Exception:  # a bug in the fake: answer 500 and keep the traceback for the test to see
            self.errors.append(traceback.format_exc())
            reply = Reply.of(500, openai_error(500) if provider == "openai" else anthropic_error(500, rid))
        if not (self.llama and provider == "openai"):  # llama-server sends no request id
            reply.headers.setdefault("x-request-id" if provider == "openai" else "request-id", rid)
        return reply

    def _route(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes,
               body: Any, provider: str, rid: str) -> Reply:
        key = _received_key(provider, headers)
        if key != self.api_key:
            if provider == "anthropic":
                return Reply.of(401, anthropic_error(401, rid, message="invalid x-api-key"))
            message = (f"Incorrect API key provided: {wire.mask(key)}. "
                       "You can find your API key at https://platform.openai.com/account/api-keys.")
            return Reply.of(401, openai_error(401, message=message))
        if method == "POST" and path in ("/v1/chat/completions", "/v1/messages"):
            if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
                error = "messages: field required"
                return Reply.of(400, openai_error(400, message=error) if provider == "openai"
                                else anthropic_error(400, rid, message=error))
            return self._model_call(provider, path, body, key, rid)
        reply = self.batches.route(method, path, query, headers, raw, body, rid)
        if reply is not None:
            return reply
        if provider == "anthropic":
            return Reply.of(404, anthropic_error(404, rid, message=f"Not found: {method} {path}"))
        return Reply.of(404, openai_error(404, message=f"Unknown request URL: {method} {path}."))

    def _model_call(self, provider: str, path: str, body: dict[str, Any], key: str, rid: str) -> Reply:
        limits: dict[str, str] = {}
        if self.rate is not None:
            verdict = self.rate.check(provider, *self._cost(provider, body))
            if not verdict.admitted:
                return Reply.of(429, error_body(provider, verdict, str(body.get("model")), rid),
                                headers=verdict.headers)
            limits = verdict.headers
        if self.slots is not None and provider == "openai":
            with self.slots.serve():
                reply = self._admitted_call(provider, path, body, key, rid)
        else:
            reply = self._admitted_call(provider, path, body, key, rid)
        reply.headers.update(limits)
        if reply.hold:
            with self._held:
                self.held += 1
                self._held.notify_all()
            self._released.wait()
        return reply

    def _cost(self, provider: str, body: dict[str, Any]) -> tuple[int, int]:
        """Input and output tokens of the answer a call will get (what the rate limits count)."""
        parsed = parse_openai(body) if provider == "openai" else parse_anthropic(body)
        obj = answer(parsed, self.labels, self.default_label, None, "", self.taxonomy_pairs)
        return tokens(parsed.system + parsed.user), tokens(dumps(obj))

    def _admitted_call(self, provider: str, path: str, body: dict[str, Any], key: str, rid: str) -> Reply:
        with self._lock:
            index = self.model_calls
            self.model_calls += 1
            fault = self.faults.pop(0) if self.faults else None
        if fault is None and self.fault_fn is not None:
            fault = self.fault_fn(index, body)
        reply = self._faulted_call(provider, path, body, key, rid, fault)
        with self._lock:
            self.served.append({"index": index, "path": path, "fault": fault.kind if fault else None,
                                "variant": fault.variant if fault else "", "status": reply.status})
        reply.hold = self.hold_from is not None and index >= self.hold_from
        return reply

    def _faulted_call(self, provider: str, path: str, body: dict[str, Any], key: str, rid: str,
                      fault: Fault | None) -> Reply:
        kind = fault.kind if fault else None
        if self.context_size is not None and provider == "openai":
            parsed = parse_openai(body)
            prompt = self.meter.count(parsed.system + parsed.user)
            if prompt > self.context_size:
                return Reply.of(400, context_error(prompt, self.context_size), headers={"connection": "close"})
            room = self.context_size - prompt  # llama-server stops writing when the context is full
            if fault is None and room < int(body.get("max_tokens") or body.get("max_completion_tokens") or room):
                return Reply.of(200, self._answer(provider, path, body, "truncated", f"chars:{room * 4}"))
        if kind == "malformed":
            assert fault is not None
            return Reply(200, damage(provider, self._answer(provider, path, body, None), fault.variant))
        if fault is None or kind in ("invalid_label", "schema_violation", "missing_product", "refusal", "truncated",
                                     "hang", "trickle"):
            variant = fault.variant if fault else ""
            reply = Reply.of(200, self._answer(provider, path, body, None if kind == "trickle" else kind, variant))
            reply.delay = fault.seconds if fault and kind == "hang" else 0.0
            reply.trickle = fault.seconds if fault and kind == "trickle" else 0.0
            return reply
        if kind == "drop":
            return Reply(0, drop=True)
        if kind == "not_json":
            if fault.variant == "json":
                return Reply(200, BROKEN_JSON)
            return Reply(200, b"<html>oops</html>", content_type="text/html")
        return wire.status_reply(provider, fault, key, rid)

    def _answer(self, provider: str, path: str, body: dict[str, Any], kind: str | None, variant: str = "",
                batch: bool = False) -> dict[str, Any]:
        parsed = parse_openai(body) if provider == "openai" else parse_anthropic(body)
        obj = answer(parsed, self.labels, self.default_label, kind, variant, self.taxonomy_pairs)
        n = next(self._ids)
        if provider == "openai":
            probabilities = None
            if body.get("logprobs"):
                titles = dict(product_titles(parsed.user))
                probabilities = [self.answer_probabilities.get(titles.get(row.get("n"), ""), DEFAULT_PROBABILITY)
                                 for row in obj.get("r") or [] if isinstance(row, dict)]
            keep = int(variant[6:]) if variant.startswith("chars:") else None
            out, entry = wire.openai_completion(parsed, obj, kind, self.meter, f"chatcmpl-fake{n:06d}", probabilities,
                                                keep)
            if self.llama and not batch:
                out = llama_completion(out, self.slots.service if self.slots else 0.0, self.timings)
        else:
            out, entry = wire.anthropic_message(parsed, obj, kind, self.meter, f"msg_fake{n:06d}")
        with self._lock:
            self.usage_log.append({**entry, "path": path, "batch": batch, "id": out["id"]})
        return out

    def _answer_batch_item(self, provider: str, body: dict[str, Any]) -> dict[str, Any]:
        path = "/v1/chat/completions" if provider == "openai" else "/v1/messages"
        return self._answer(provider, path, body, None, batch=True)


def _received_key(provider: str, headers: dict[str, str]) -> str:
    # anthropic 2.x sends `Authorization: Bearer <key>`; older SDKs and curl examples use `x-api-key`
    if provider == "anthropic" and "x-api-key" in headers:
        return headers["x-api-key"]
    auth = headers.get("authorization", "")
    return auth[7:] if auth.lower().startswith("bearer ") else ""


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default 5 drops SYNs when 64+ clients connect at once
    app: FakeAPIServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client killed mid-request (the crash tests do this on purpose) is not a server bug.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDKs' connection pools expect
    disable_nagle_algorithm = True  # headers and body are two writes: Nagle + delayed ACK cost 40 ms a reply
    server: _HTTPServer

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _serve(self) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        raw = self._read_body(headers)
        app = self.server.app
        reply = app.handle(self.command, self.path, headers, raw)
        time.sleep(app.latency + reply.delay)
        if reply.drop:
            self.close_connection = True
            return
        try:
            self.send_response(reply.status)
            self.send_header("content-type", reply.content_type)
            self.send_header("content-length", str(len(reply.body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self._write_body(reply)
        except OSError:  # the client gave up (e.g. its timeout fired during a hang)
            self.close_connection = True

    def _write_body(self, reply: Reply) -> None:
        if not reply.trickle:
            self.wfile.write(reply.body)
            return
        sent = 0
        try:
            while sent < len(reply.body):
                self.wfile.write(reply.body[sent:sent + wire.TRICKLE_BYTES])
                self.wfile.flush()
                sent = min(sent + wire.TRICKLE_BYTES, len(reply.body))
                if sent < len(reply.body):
                    time.sleep(reply.trickle)
        except OSError:
            with self.server.app._lock:
                self.server.app.disconnects.append({"path": self.path, "sent": sent, "size": len(reply.body)})
            raise

    def _read_body(self, headers: dict[str, str]) -> bytes:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline().strip():  # trailers
                pass
            return b"".join(chunks)
        return self.rfile.read(int(headers.get("content-length") or 0))

    def log_message(self, format: str, *args: Any) -> None:  # silence per-request stderr lines
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every response")
    parser.add_argument("--api-key", default="test-key")
    parser.add_argument("--cache-min-tokens", type=int, default=1024)
    parser.add_argument("--batch-polls", type=int, default=2, help="retrieve calls until a batch ends")
    parser.add_argument("--rate-requests", type=int, help="requests per window (a bucket that starts full)")
    parser.add_argument("--rate-tokens", type=int, help="input + output tokens per window")
    parser.add_argument("--rate-window", type=float, default=60.0, help="seconds for an empty bucket to refill")
    parser.add_argument("--slots", type=int, help="answer like llama-server with this many slots (the rest queue)")
    parser.add_argument("--service", type=float, default=0.05, help="seconds a call holds a slot (with --slots)")
    parser.add_argument("--ctx-size", type=int, help="prompt tokens beyond which a call gets HTTP 400 (--slots)")
    args = parser.parse_args(argv)
    server = FakeAPIServer(api_key=args.api_key, latency=args.latency, cache_min_tokens=args.cache_min_tokens,
                           host=args.host, port=args.port)
    server.batch_polls_to_finish = args.batch_polls
    if args.rate_requests or args.rate_tokens:
        server.limit_rate(args.rate_requests, args.rate_tokens, args.rate_window)
    if args.slots:
        server.like_llama_server(args.slots, args.service, args.ctx_size)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with server:
        print(server.url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
