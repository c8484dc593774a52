"""The end-to-end benchmark harness (``make bench`` / ``make bench-quick``).

Why a package of its own: the benchmark must start the real stack (Kafka, PostgreSQL, the three services as
processes, a local Alertmanager for reference), drive it with a load generator that costs little CPU on a
2-core machine, and render ``docs/benchmarks.md`` only from what it measured. Run it with
``uv run python -m scripts.bench quick|full``.
"""
