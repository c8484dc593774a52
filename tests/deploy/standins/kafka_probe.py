#!/usr/bin/python3
"""``kafka-broker-api-versions.sh --bootstrap-server HOST:PORT`` for the Kafka stand-in: exit 0 when the broker
answers an ApiVersions request (v0) without error, as the official tool does when the broker is up.

Kafka's wire format: a 4-byte size, then the request header v1 (api key 18, version 0, correlation id, client
id) and an empty body; the response is the size, the correlation id and the error code first.
"""

from __future__ import annotations

import argparse
import socket
import struct
import sys

API_VERSIONS = 18
CORRELATION_ID = 1801
CLIENT_ID = b"standin-probe"


def read_exactly(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("the broker closed the connection")
        data += chunk
    return data


def api_versions_error(host: str, port: int, timeout: float = 5) -> int:
    request = struct.pack(">hhih", API_VERSIONS, 0, CORRELATION_ID, len(CLIENT_ID)) + CLIENT_ID
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(struct.pack(">i", len(request)) + request)
        (size,) = struct.unpack(">i", read_exactly(sock, 4))
        correlation, error = struct.unpack(">ih", read_exactly(sock, size)[:6])
    if correlation != CORRELATION_ID:
        raise ConnectionError(f"correlation id {correlation}, expected {CORRELATION_ID}")
    return int(error)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap-server", required=True)
    host, _, port = parser.parse_args().bootstrap_server.rpartition(":")
    try:
        error = api_versions_error(host, int(port))
    except OSError as problem:
        print(f"no answer from {host}:{port}: {problem}", file=sys.stderr)
        return 1
    print(f"{host}:{port} ApiVersions error code {error}")
    return 0 if error == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
