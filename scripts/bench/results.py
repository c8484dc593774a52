"""The measured results: one pydantic model tree, written to docs/benchmarks.json and rendered to Markdown.

Why a schema: the report is generated only from this file, so every figure in docs/benchmarks.md can be traced
to a measurement (and re-rendered without re-running: ``python -m scripts.bench render``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LatencySummary(_Model):
    count: int
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    mean_ms: float | None = None


class ProcessUsage(_Model):
    """One service's process tree during one phase (uvicorn workers and PostgreSQL backends included)."""

    name: str
    cpu_seconds: float
    cpu_seconds_per_1000_alerts: float | None = None
    peak_rss_mib: float
    processes: int


class ConsumerLag(_Model):
    """Sum over partitions of ``alertrouter_consumer_lag_records`` for one consumer group, sampled every second."""

    group: str
    max_records: int
    last_records: int
    samples: int


class ThroughputRun(_Model):
    system: str  # "alertrouter" or "alertmanager"
    workers: int | None = None
    batch: int
    concurrency: int
    seconds: float
    requests: int
    accepted_alerts: int
    alerts_per_second: float
    requests_per_second: float
    statuses: dict[str, int]
    request_latency: LatencySummary
    server_cpu_cores: float = Field(description="server CPU seconds per wall second (2.0 = both cores busy)")
    client_cpu_cores: float
    resources: list[ProcessUsage] = Field(default_factory=list)


class LatencyRun(_Model):
    system: str
    rate: float
    seconds: float
    offered_alerts: int
    accepted_alerts: int
    statuses: dict[str, int]
    delivered_alerts: int = Field(description="accepted alerts whose first notification reached the receiver")
    missing_alerts: int
    extra_notifications: int = Field(description="notifications beyond the first one per alert (duplicates)")
    end_to_end: LatencySummary
    to_decision: LatencySummary | None = Field(
        None, description="alertrouter: request start -> the router's decision (the page's created_at)"
    )
    decision_to_provider: LatencySummary | None = Field(
        None, description="alertrouter: the router's decision -> the notification's arrival"
    )
    ingest_response: LatencySummary
    generator_lag_p99_ms: float | None = Field(description="how late the generator sent, p99 (0 = on schedule)")
    drain_seconds: float = Field(description="from the last request to the last notification (or the deadline)")
    drained: bool
    backlog_at_start: int = Field(
        0, description="earlier alerts the pipeline had not finished (undecided or unpaged) when this run started"
    )
    resources: list[ProcessUsage] = Field(default_factory=list)
    lag: list[ConsumerLag] = Field(default_factory=list)
    load_average: tuple[float, float, float] | None = None


class StormRun(_Model):
    alerts: int
    seconds: float
    batch: int
    service: str
    grouping_window_seconds: int
    accepted_alerts: int
    statuses: dict[str, int]
    pages: int
    pages_by_contact_method: dict[str, int]
    incidents: int | None
    first_page_seconds: float | None = Field(description="from the first storm request to the first page")
    settled: bool = Field(description="the router had committed every storm alert before the pages were counted")
    dead_lettered: int = Field(0, description="alert records the router sent to the dead-letter topic meanwhile")
    backlog_at_start: int = Field(0, description="earlier alerts still without a page when the storm started")
    resources: list[ProcessUsage] = Field(default_factory=list)
    lag: list[ConsumerLag] = Field(default_factory=list)


class LoadSafetyRun(_Model):
    workers: int
    batch: int
    capacity_alerts_per_second: float = Field(description="the closed-loop figure the overload is a multiple of")
    overload_factor: float
    offered_requests_per_second: float
    max_connections: int
    overload_seconds: float
    overload_statuses: dict[str, int]
    overload_accepted_alerts_per_second: float
    overload_latency: LatencySummary = Field(description="answer latency of the requests sent (dropped excluded)")
    client_dropped: int = Field(description="sends skipped because all client connections were busy")
    shed_with_retry_after: int = Field(description="429/503 answers that carried Retry-After")
    recovery_rate_rps: float
    recovery_seconds: float
    recovery_statuses: dict[str, int]
    recovery_latency: LatencySummary
    all_ok_after_ms: float | None = Field(
        description="from the end of the overload to the first request after which every request got a 2xx"
    )
    ready_after: bool
    peak_rss_mib: float
    max_in_flight_seen: int | None = Field(
        None, description="highest alertrouter_ingest_in_flight_requests read from /metrics during the overload"
    )
    rss_before_mib: float
    rss_after_mib: float


class FrameShare(_Model):
    name: str
    percent: float


class ProfileRun(_Model):
    service: str
    seconds: float
    rate: float
    samples: int = Field(description="busy samples (the shares below are of these)")
    idle_samples: int = Field(0, description="samples waiting in the event loop's select, left out")
    busy_fraction: float = Field(description="busy samples / (seconds x sampling rate)")
    cpu_cores: float | None = Field(
        None,
        description="CPU seconds per second of the process tree while sampled (from /proc); busy beyond it "
        "is time spent runnable but waiting for a core",
    )
    by_package_self: list[FrameShare]
    by_package_inclusive: list[FrameShare]
    top_self: list[FrameShare]
    top_inclusive: list[FrameShare]
    tool: str


class Environment(_Model):
    mode: str
    started_at: str
    finished_at: str = ""
    wall_seconds: float = 0.0
    cpu_model: str
    cores: int
    memory_gib: float
    kernel: str
    python: str
    kafka: str
    postgres: str
    alertmanager: str
    java: str
    git_commit: str
    git_dirty_files: int
    libraries: dict[str, str]
    load_average_start: tuple[float, float, float]
    load_average_end: tuple[float, float, float] | None = None
    command: str
    settings: dict[str, str] = Field(default_factory=dict, description="non-secret settings given to the stack")
    bench_config: str = Field("", description="the ownership file added for the benchmark, as used")


class RouterRun(_Model):
    """Alert events produced straight to the alerts topic: new ones (one first page each), then the same again."""

    kind: str  # "new" or "duplicate"
    rate: float
    alerts: int
    seconds: float
    paged_alerts: int
    alerts_to_pages: LatencySummary = Field(description="alert sent → its first page record written (new only)")
    drained: bool = Field(description="the router committed every record (and, for new alerts, paged each)")
    router_cpu_ms_per_alert: float | None
    resources: list[ProcessUsage] = Field(default_factory=list)
    lag: list[ConsumerLag] = Field(default_factory=list)


class BenchResults(_Model):
    environment: Environment
    throughput: list[ThroughputRun] = Field(default_factory=list)
    load_safety: LoadSafetyRun | None = None
    latency: list[LatencyRun] = Field(default_factory=list)
    storm: StormRun | None = None
    router: list[RouterRun] = Field(default_factory=list)
    profiles: list[ProfileRun] = Field(default_factory=list)
    dead_letters: dict[str, int] = Field(default_factory=dict, description="records in each dead-letter topic")
    service_errors: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="error-level log events per service (event: exception's last line)"
    )
    unmeasured: dict[str, str] = Field(default_factory=dict, description="phase -> why it could not be measured")
