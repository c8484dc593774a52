"""The embedded HTTP server's drain is bounded, so a pod's grace period (the Helm chart's) can cover it."""

from __future__ import annotations

from fastapi import FastAPI

from alertrouter_shared.serving import HTTP_DRAIN_SECONDS, embedded_server


def test_requests_in_hand_get_a_bounded_drain_after_sigterm() -> None:
    server = embedded_server(FastAPI(), "127.0.0.1", 0)
    assert server.config.timeout_graceful_shutdown == HTTP_DRAIN_SECONDS
    assert 0 < HTTP_DRAIN_SECONDS <= 15
