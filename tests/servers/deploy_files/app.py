"""A tiny deployable service for the blue/green fixture (tests/servers/deploy.py).

Its version and error rate come from the release directory it runs from (`release.json`), so "a bad
release" is a release whose config says `"error_rate": 0.3`. Serves `/health`, `/metrics` (Prometheus,
counters labelled by `version`) and `/` (the traffic the watch judges).
"""

import json
import os
import random
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

release_dir, port = sys.argv[1], int(sys.argv[2])
with open(os.path.join(release_dir, "release.json")) as file:
    config = json.load(file)
VERSION = config["version"]
REQUESTS = Counter("http_requests_total", "requests", ["code", "version"])
LATENCY = Histogram("http_request_duration_seconds", "latency", ["version"])
# Both series exist from the start, so an error ratio is 0 (not "no data") for a release without errors.
REQUESTS.labels("200", VERSION)
REQUESTS.labels("500", VERSION)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/metrics":
            body = generate_latest()
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE_LATEST)
        elif self.path == "/health":
            ok = not config.get("broken_health")
            body = json.dumps({"status": "ok" if ok else "fail", "version": VERSION, "port": port}).encode()
            self.send_response(200 if ok else 503)
            self.send_header("Content-Type", "application/json")
        else:
            with LATENCY.labels(VERSION).time():
                code = 500 if random.random() < config.get("error_rate", 0) else 200
            REQUESTS.labels(str(code), VERSION).inc()
            body = json.dumps({"version": VERSION, "port": port}).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
