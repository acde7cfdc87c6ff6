"""A webhook receiver for bench/intents.sh WEBHOOK=1: answers 204 to every POST, and on
SIGTERM prints how many deliveries arrived and their end-to-end latency (arrival time minus
the event's `timestamp`, so it includes the outbox wait, the worker's poll and the send)."""
import json
import signal
import sys
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

latencies = []


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the sender reuses its connections

    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        sent = datetime.fromisoformat(json.loads(body)["timestamp"].replace("Z", "+00:00"))
        latencies.append(time.time() - sent.timestamp())
        self.send_response(204)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def report(*_):
    lat = sorted(latencies)
    pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else 0
    print(f"webhooks delivered {len(lat)}  end-to-end ms  p50 {pick(0.5):.0f}  "
          f"p90 {pick(0.9):.0f}  p99 {pick(0.99):.0f}  max {pick(1.0):.0f}", flush=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, report)
ThreadingHTTPServer.request_queue_size = 1024  # the default 5 drops concurrent connects
server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
server.serve_forever()
