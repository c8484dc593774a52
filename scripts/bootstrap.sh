#!/usr/bin/env bash
# Install what a fresh Debian/Ubuntu machine lacks to develop and test alertrouter; idempotent and quick when
# everything is there. `make dev`, `make test` and `.ci/run` all start with it, so the README's two commands work
# on a bare machine.
#
# Why one script: the three entry points used to install different things (only .ci/run built Helm, so `make test`
# failed every chart test on a fresh checkout).
#
# Usage: scripts/bootstrap.sh [--check] [--containers] [--browser]
#   --check       install nothing: print what is present or missing, exit 1 if anything required is missing
#   --containers  also podman, runc, debootstrap, catatonit, the CNI dnsname plugin (the image tests; CI passes it)
#   --browser     also Debian's chromium and chromium-driver (implied when tests/console exists)
# Environment: BOOTSTRAP_SKIP_HELM=1 skips building Helm (e.g. `make dev`, which renders no chart).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"

check_only=0
want_containers=0
want_browser=0
for arg in "$@"; do
    case "${arg}" in
        --check) check_only=1 ;;
        --containers) want_containers=1 ;;
        --browser) want_browser=1 ;;
        *) echo "bootstrap: unknown option ${arg} (see the header of scripts/bootstrap.sh)" >&2; exit 2 ;;
    esac
done
[[ -d tests/console ]] && want_browser=1

export PATH="${HOME}/.local/bin:${PATH}"
missing=()   # human-readable names of what is still missing after this run
apt_need=()  # Debian packages to install

say() { printf 'bootstrap: %s\n' "$*"; }

have_postgres() {
    command -v initdb >/dev/null 2>&1 || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

java_major() {
    java -version 2>&1 | sed -nE 's/.*version "([0-9]+)(\.([0-9]+))?.*/\1 \3/p' | awk '{print ($1 == 1 ? $2 : $1)}'
}

# -- Debian packages ---------------------------------------------------------------------------------------------
# command to look for -> package that provides it
if ! command -v java >/dev/null 2>&1 || [[ "$(java_major)" -lt 17 ]]; then apt_need+=(openjdk-17-jre-headless); fi
command -v mvn >/dev/null 2>&1 || apt_need+=(maven)
have_postgres || apt_need+=(postgresql)
command -v prometheus-alertmanager >/dev/null 2>&1 || apt_need+=(prometheus-alertmanager)
command -v promtool >/dev/null 2>&1 || apt_need+=(prometheus)  # promtool: the alert rules' unit tests
command -v openssl >/dev/null 2>&1 || apt_need+=(openssl)
command -v python3 >/dev/null 2>&1 || apt_need+=(python3 python3-pip)
have_uv() { command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1; }
if ! have_uv && command -v python3 >/dev/null 2>&1 && ! python3 -m pip --version >/dev/null 2>&1; then
    apt_need+=(python3-pip)  # uv comes from PyPI through pip
fi
if [[ ${want_containers} -eq 1 ]]; then
    command -v podman >/dev/null 2>&1 || apt_need+=(podman)
    command -v runc >/dev/null 2>&1 || apt_need+=(runc)
    command -v debootstrap >/dev/null 2>&1 || apt_need+=(debootstrap)
    command -v catatonit >/dev/null 2>&1 || apt_need+=(catatonit)  # podman kube play's pause image
    # Service-name DNS on podman's CNI networks (the compose test: podman-compose, Debian's podman 4.3).
    [[ -x /usr/lib/cni/dnsname ]] || apt_need+=(golang-github-containernetworking-plugin-dnsname)
fi
if [[ ${want_browser} -eq 1 ]]; then
    command -v chromium >/dev/null 2>&1 || apt_need+=(chromium)
    command -v chromedriver >/dev/null 2>&1 || apt_need+=(chromium-driver)
fi

if [[ ${#apt_need[@]} -gt 0 ]]; then
    if [[ ${check_only} -eq 1 ]]; then
        missing+=("Debian packages: ${apt_need[*]}")
    elif [[ "$(id -u)" -ne 0 ]]; then
        say "missing Debian packages: ${apt_need[*]}" >&2
        say "not running as root, so they cannot be installed from here; run once:" >&2
        say "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${apt_need[*]}" >&2
        exit 1
    else
        say "installing Debian packages: ${apt_need[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt_need[@]}" >/dev/null
        # Debian's postinst may start the packaged daemons (PostgreSQL, Alertmanager on 9093); the tests and the dev
        # stack use their own ports, so those may keep running.
    fi
fi

# -- containers: podman as this sandbox needs it (see docs/deployment.md, "Images in CI") -------------------------
if [[ ${want_containers} -eq 1 && ${check_only} -eq 0 && "$(id -u)" -eq 0 ]]; then
    conf=/etc/containers/containers.conf
    if ! grep -qs '^default_ulimits = \[\]' "${conf}"; then
        # The sandbox refuses setrlimit for podman's default ulimits.
        mkdir -p /etc/containers
        printf '[containers]\ndefault_ulimits = []\n' >>"${conf}"
        say "wrote default_ulimits = [] to ${conf}"
    fi
fi

# -- uv ------------------------------------------------------------------------------------------------------------
if ! have_uv; then
    if [[ ${check_only} -eq 1 ]]; then
        missing+=("uv (pip install uv)")
    else
        say "installing uv from PyPI"
        # Debian's own python3 refuses user installs (PEP 668) unless told: uv is a standalone binary, no conflict.
        python3 -m pip install --quiet --user uv 2>/dev/null \
            || python3 -m pip install --quiet --user --break-system-packages uv
        if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
    fi
fi

# -- Kafka broker jars (Maven Central, pinned in scripts/local_kafka.py) ---------------------------------------------
kafka_version="$(sed -nE 's/^DEFAULT_VERSION = "([^"]+)"/\1/p' scripts/local_kafka.py)"
if [[ ! -f ".cache/kafka/${kafka_version}/complete.json" ]]; then
    if [[ ${check_only} -eq 1 ]]; then
        missing+=("Kafka ${kafka_version} jars (python3 scripts/local_kafka.py fetch)")
    else
        say "fetching the Kafka ${kafka_version} broker jars from Maven Central"
        python3 scripts/local_kafka.py fetch
    fi
fi

# -- Helm (built from the Go module proxy) -------------------------------------------------------------------------
helm_version="$(sed -nE 's/^HELM_VERSION="\$\{HELM_VERSION:-([^}]+)\}"/\1/p' scripts/install_helm.sh)"
if [[ "${BOOTSTRAP_SKIP_HELM:-0}" != 1 ]] \
    && [[ "$(cat .cache/bin/.helm-version 2>/dev/null || true)" != "${helm_version}" || ! -x .cache/bin/helm ]]; then
    if [[ ${check_only} -eq 1 ]]; then
        missing+=("Helm ${helm_version} (bash scripts/install_helm.sh)")
    else
        bash scripts/install_helm.sh
    fi
fi

# -- report ----------------------------------------------------------------------------------------------------------
if [[ ${check_only} -eq 1 ]]; then
    if [[ ${#missing[@]} -gt 0 ]]; then
        for item in "${missing[@]}"; do say "missing: ${item}"; done
        say "run scripts/bootstrap.sh (as root for the Debian packages) to install them"
        exit 1
    fi
    present="java $(java_major), maven, postgresql, alertmanager, promtool, openssl, uv, Kafka ${kafka_version}"
    [[ "${BOOTSTRAP_SKIP_HELM:-0}" == 1 ]] || present+=", Helm ${helm_version}"
    [[ ${want_containers} -eq 0 ]] || present+=", podman, runc, debootstrap, catatonit, CNI dnsname"
    [[ ${want_browser} -eq 0 ]] || present+=", chromium, chromedriver"
    say "ok: ${present}"
    exit 0
fi
say "ready"
