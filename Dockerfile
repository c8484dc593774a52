# syntax=docker/dockerfile:1.7
#
# One image per service, from one file:
#   docker build --build-arg SERVICE=ingest   -t alertrouter-ingest .
#   docker build --build-arg SERVICE=router   -t alertrouter-router .
#   docker build --build-arg SERVICE=notifier -t alertrouter-notifier .
# The builder resolves only alertrouter-$SERVICE (and alertrouter-shared) from uv.lock; the runtime stage holds
# nothing but Python and that virtual environment, runs as an unprivileged user and writes only to /tmp, so it
# works with a read-only root filesystem. Compose and Helm set the command explicitly
# (`alertrouter-router consume`, `alertrouter-router api`, `alertrouter-router migrate`, ...).

ARG PYTHON_VERSION=3.11
ARG UV_VERSION=0.13.9
ARG DEBIAN_RELEASE=bookworm
# The base of both stages and the image uv is copied from. CI overrides them with images made from Debian's
# packages (scripts/images.py: BASE_IMAGE with Debian's python3, PYTHON=/usr/bin/python3), because no registry
# is reachable there; the published images use the defaults.
ARG BASE_IMAGE=python:${PYTHON_VERSION}-slim-${DEBIAN_RELEASE}
ARG UV_IMAGE=ghcr.io/astral-sh/uv:${UV_VERSION}

FROM ${UV_IMAGE} AS uv

# ---------------------------------------------------------------------------------------------------------------
FROM ${BASE_IMAGE} AS builder
ARG SERVICE
# The base image's interpreter (python:*-slim: /usr/local/bin/python3; Debian's package: /usr/bin/python3).
ARG PYTHON=/usr/local/bin/python3
# A CA bundle uv trusts for PyPI, when the build's network needs one beyond uv's own roots (empty: uv's defaults).
ARG SSL_CERT_FILE=""
SHELL ["/bin/sh", "-eu", "-c"]
RUN case "${SERVICE:-}" in \
      ingest|router|notifier) ;; \
      *) echo "build with --build-arg SERVICE=ingest|router|notifier (got '${SERVICE:-}')" >&2; exit 1 ;; \
    esac
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=${PYTHON} \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src

# Dependency layer: rebuilt only when the lock or a member's metadata changes. uv needs every workspace
# member's pyproject.toml to read the workspace, but installs only the selected package's dependencies.
# Absolute targets: podman's builder rejects relative ones (BuildKit resolves them against WORKDIR).
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=/src/uv.lock \
    --mount=type=bind,source=pyproject.toml,target=/src/pyproject.toml \
    --mount=type=bind,source=shared/pyproject.toml,target=/src/shared/pyproject.toml \
    --mount=type=bind,source=services/ingest/pyproject.toml,target=/src/services/ingest/pyproject.toml \
    --mount=type=bind,source=services/router/pyproject.toml,target=/src/services/router/pyproject.toml \
    --mount=type=bind,source=services/notifier/pyproject.toml,target=/src/services/notifier/pyproject.toml \
    uv sync --frozen --no-dev --no-install-workspace --package "alertrouter-${SERVICE}"

# Project layer: the shared package and this one service, installed non-editable so the runtime stage needs
# no source tree.
COPY pyproject.toml uv.lock ./
COPY shared/ shared/
COPY services/ingest/pyproject.toml services/ingest/pyproject.toml
COPY services/router/pyproject.toml services/router/pyproject.toml
COPY services/notifier/pyproject.toml services/notifier/pyproject.toml
COPY services/${SERVICE}/ services/${SERVICE}/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package "alertrouter-${SERVICE}"

# ---------------------------------------------------------------------------------------------------------------
FROM ${BASE_IMAGE} AS runtime
ARG SERVICE
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="alertrouter-${SERVICE}" \
      org.opencontainers.image.description="alertrouter ${SERVICE}: event-driven alert routing (ingest, router, notifier)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="https://github.com/alertrouter/alertrouter" \
      org.opencontainers.image.url="https://github.com/alertrouter/alertrouter" \
      org.opencontainers.image.documentation="https://github.com/alertrouter/alertrouter/blob/main/docs/deployment.md" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="alertrouter"

SHELL ["/bin/sh", "-eu", "-c"]
RUN groupadd --system --gid 10001 alertrouter \
    && useradd --system --uid 10001 --gid alertrouter --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin alertrouter

# Owned by root and not writable by the service user: the code cannot be changed at run time.
COPY --from=builder /app/.venv /app/.venv
COPY deploy/docker/healthcheck.py /app/healthcheck.py

ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONFAULTHANDLER=1 \
    ALERTROUTER_SERVICE="${SERVICE}" \
    TMPDIR=/tmp

# Import smoke check: the image fails to build if the service (or a dependency it imports) is missing.
# alertrouter_<service>.__main__ is the console script's module: importing it loads the web framework, the
# Kafka client and the database driver the service really uses, without starting anything.
RUN python -c "import importlib, sys; importlib.import_module('alertrouter_' + sys.argv[1] + '.__main__')" "${SERVICE}" \
    && test -x "/app/.venv/bin/alertrouter-${SERVICE}" \
    && ln -s "/app/.venv/bin/alertrouter-${SERVICE}" /app/.venv/bin/alertrouter-service

WORKDIR /app
USER 10001:10001

# ingest listens on 8080, router (api and consume) on 8081, notifier on 8082.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 CMD ["python", "/app/healthcheck.py"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["alertrouter-service"]
