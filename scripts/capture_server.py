"""The dev stack's capture server: receives every outgoing webhook notification and prints it.

POST anything to http://127.0.0.1:18090/<path>; GET /captured lists what arrived (JSON), newest last.
Standard library only, so it runs before the workspace is installed.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CAPTURED: list[dict[str, Any]] = []
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length)
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        entry = {"path": self.path, "headers": dict(self.headers), "body": body}
        with LOCK:
            CAPTURED.append(entry)
        summary = body.get("summary") if isinstance(body, dict) else None
        print(f"[capture] POST {self.path} {summary or ''}", flush=True)
        self._reply(200, {"ok": True})

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/captured":
            with LOCK:
                self._reply(200, CAPTURED)
        else:
            self._reply(404, {"error": "GET /captured lists what arrived"})

    def _reply(self, status: int, payload: Any) -> None:
        data = json.dumps(payload, indent=1).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return


def serve(port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 18090
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"capture server on http://127.0.0.1:{port} (GET /captured)", flush=True)
    server.serve_forever()
