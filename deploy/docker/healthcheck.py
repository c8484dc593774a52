"""Container health check: GET /healthz on this service's port, with nothing but the standard library.

The image has no curl or wget (smaller, less to patch), so Docker's HEALTHCHECK runs this with the image's Python.
The service is chosen at build time (``ALERTROUTER_SERVICE``); its port comes from the same variable the service
reads (``INGEST_PORT``, ``ROUTER_PORT``, ``NOTIFIER_PORT``), else the contract's default.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

DEFAULT_PORTS = {"ingest": 8080, "router": 8081, "notifier": 8082}


def health_url(environ: dict[str, str]) -> str:
    service = environ.get("ALERTROUTER_SERVICE", "")
    if service not in DEFAULT_PORTS:
        raise SystemExit(f"ALERTROUTER_SERVICE must be one of {sorted(DEFAULT_PORTS)}, got {service!r}")
    port = environ.get(f"{service.upper()}_PORT", str(DEFAULT_PORTS[service]))
    path = environ.get("HEALTHCHECK_PATH", "/healthz")
    return f"http://127.0.0.1:{port}{path}"


def probe(url: str, timeout: float) -> int:
    """0 when the endpoint answers 2xx, 1 otherwise (Docker's healthy / unhealthy exit codes)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - fixed http://127.0.0.1 URL
            return 0 if 200 <= response.status < 300 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1


def main() -> int:
    return probe(health_url(dict(os.environ)), timeout=float(os.environ.get("HEALTHCHECK_TIMEOUT", "2")))


if __name__ == "__main__":
    sys.exit(main())
