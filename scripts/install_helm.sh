#!/usr/bin/env bash
# Build a pinned Helm CLI from the Go module proxy into <repo>/.cache/bin/helm.
#
# Why from source: CI machines reach package registries (the Go module proxy included) but not
# get.helm.sh or GitHub releases. The binary is cached: a second run at the same version is a no-op.
#
# Usage: scripts/install_helm.sh            # build if missing or at another version
#        HELM_VERSION=v3.22.0 scripts/install_helm.sh
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.21.4}"
# Helm v3 reads the default .Capabilities.KubeVersion from ldflags; without them it says v1.20.
HELM_DEFAULT_KUBE_MINOR="${HELM_DEFAULT_KUBE_MINOR:-34}"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin_dir="${repo_root}/.cache/bin"
helm_bin="${bin_dir}/helm"
stamp="${bin_dir}/.helm-version"

if [[ -x "${helm_bin}" && -f "${stamp}" && "$(cat "${stamp}")" == "${HELM_VERSION}" ]]; then
    echo "helm ${HELM_VERSION} already built at ${helm_bin}"
    exit 0
fi

go_bin="$(command -v go || true)"
if [[ -z "${go_bin}" && -x /usr/local/go/bin/go ]]; then
    go_bin=/usr/local/go/bin/go
fi
if [[ -z "${go_bin}" ]]; then
    cat >&2 <<'EOF'
error: the Go toolchain is required to build Helm (helm.sh/helm/v3 needs Go >= 1.26).
Install it from https://go.dev/dl/ (or your distribution's golang package, if recent enough),
make sure `go` is on PATH or at /usr/local/go/bin/go, then re-run scripts/install_helm.sh.
EOF
    exit 1
fi

mkdir -p "${bin_dir}"
echo "building helm ${HELM_VERSION} with $(${go_bin} version) (a few minutes on a cold cache)..."
ldflags="-s -w"
ldflags+=" -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}"
ldflags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1"
ldflags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=${HELM_DEFAULT_KUBE_MINOR}"

GOBIN="${bin_dir}" CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false" \
    "${go_bin}" install -ldflags="${ldflags}" "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"

echo "${HELM_VERSION}" >"${stamp}"
"${helm_bin}" version --short
