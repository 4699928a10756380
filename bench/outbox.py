"""Outbox figures of `make bench`: how fast signed webhook deliveries drain
(each claimed, signed, posted and marked sent in its own transaction),
against the bare baseline of the same signed POSTs to the same local
receiver with no database at all."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from django.test import override_settings
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from bench.health import count_queries

ENDPOINTS = 5


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver would

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.count += 1  # type: ignore[attr-defined]
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def _bare_posts(url: str, secret: str, bodies: list[str]) -> float:
    """Seconds to sign and POST every body, one at a time, on one session."""
    session = requests.Session()
    signer = Webhook(secret)
    start = time.perf_counter()
    for body in bodies:
        msg_id = f"msg_{uuid.uuid4().hex}"
        now = timezone.now()
        session.post(
            url,
            data=body.encode(),
            headers={
                "Content-Type": "application/json",
                "webhook-id": msg_id,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": signer.sign(msg_id, now, body),
            },
            timeout=10,
        )
    return time.perf_counter() - start


def measure_outbox(user, messages: int) -> dict[str, object]:
    from notifications import delivery, services
    from notifications.models import Channel, MessageStatus, OutboundMessage
    from notifications.outbox import event_payload

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.count = 0  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with override_settings(WEBHOOK_ALLOW_PRIVATE=True):
            endpoints = [
                services.endpoint_create(user=user, url=f"{base}/e{i}", events=["risk.opened"])[0]
                for i in range(ENDPOINTS)
            ]
            start_at = timezone.now() - timedelta(minutes=1)
            rows = [
                OutboundMessage(
                    dedupe_key=f"webhook:{endpoint.pk}:bench:{n}",
                    channel=Channel.WEBHOOK,
                    kind="risk.opened",
                    endpoint=endpoint,
                    event_id=uuid.uuid4(),
                    payload=event_payload("risk.opened", {"risk": {"id": n}}, start_at),
                    created_at=start_at,
                    next_attempt_at=start_at,
                )
                for n in range(messages // ENDPOINTS)
                for endpoint in endpoints
            ]
            OutboundMessage.objects.bulk_create(rows, batch_size=2000)
            bodies = [json.dumps(row.payload, separators=(",", ":")) for row in rows]

            bare_s = _bare_posts(f"{base}/bare", endpoints[0].secret, bodies)
            server.count = 0  # type: ignore[attr-defined]
            start = time.perf_counter()
            with count_queries() as queries:
                for endpoint in endpoints:
                    delivery.drain(Channel.WEBHOOK, endpoint.pk)
            drain_s = time.perf_counter() - start
        sent = OutboundMessage.objects.filter(status=MessageStatus.SENT).count()
        received = server.count  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        OutboundMessage.objects.filter(channel=Channel.WEBHOOK).delete()
    return {
        "outbox_messages": len(rows),
        "outbox_drain_per_s": round(len(rows) / drain_s),
        "outbox_bare_post_per_s": round(len(rows) / bare_s),
        "outbox_drain_vs_bare_post": round(drain_s / bare_s, 2),
        "outbox_queries_per_message": round(len(queries) / len(rows), 2),
        "outbox_sent_once": sent == received == len(rows),
    }
