"""Local HTTP receivers standing in for Slack and webhook consumers: a real
server on 127.0.0.1 in a background thread that records every request and
answers what the test scripts."""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"


class Receiver:
    """``with Receiver() as receiver:`` serves on ``receiver.url``. Queue answers
    with ``answer(...)`` (each used once, in order); afterwards it answers
    ``default``. ``requests`` lists what arrived, in order of arrival."""

    def __init__(self, default: Answer | None = None) -> None:
        self.default = default or Answer()
        self.requests: list[Received] = []
        self._answers: deque[Answer] = deque()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                answer = receiver._record(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _record(self, received: Received) -> Answer:
        with self._lock:
            self.requests.append(received)
            return self._answers.popleft() if self._answers else self.default

    def answer(self, *answers: Answer) -> None:
        with self._lock:
            self._answers.extend(answers)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
