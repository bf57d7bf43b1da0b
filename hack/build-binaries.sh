#!/usr/bin/env bash
# Builds kube-apiserver, etcd, helm (and kubectl when the machine lacks it) from the Go module proxy
# into a cache outside the repo. A binary is rebuilt only when its pinned version changes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
CACHE="${LIVE_MIGRATION_CACHE:-$HOME/.cache/live-migration}"
BIN="$CACHE/bin"
mkdir -p "$BIN" "$CACHE/build"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
export CGO_ENABLED=0

log() { printf '[build-binaries] %s\n' "$*" >&2; }

# have NAME VERSION: true when the cached binary was built from this version.
have() { [[ -x "$BIN/$1" && "$(cat "$BIN/$1.version" 2>/dev/null)" == "$2" ]]; }
stamp() { echo "$2" > "$BIN/$1.version"; }

# A throwaway module that requires k8s.io/kubernetes and pins every staging module to the matching
# v0.x.y, since k8s.io/kubernetes' own go.mod replaces them with ./staging paths.
build_kube() { # build_kube NAME PACKAGE
  local name="$1" pkg="$2"
  have "$name" "$KUBE_VERSION" && return 0
  log "building $name $KUBE_VERSION (cold build takes several minutes)"
  local dir="$CACHE/build/kube-$KUBE_VERSION"
  local staging_version="v0.${KUBE_VERSION#v1.}"
  mkdir -p "$dir"
  (
    cd "$dir"
    if [[ ! -f go.mod ]]; then
      go mod init example.invalid/kube-build >/dev/null 2>&1
      local gomod
      gomod="$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')"
      local replaces=()
      while read -r mod; do
        replaces+=("-replace=$mod=$mod@$staging_version")
      done < <(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$gomod")
      go mod edit "${replaces[@]}"
    fi
    # Adds k8s.io/kubernetes and everything the package needs to go.mod (no tidy: main packages
    # cannot be imported, so tidy would drop them again).
    go get "$pkg@$KUBE_VERSION"
    go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${KUBE_VERSION#v1.}" -o "$BIN/$name" "$pkg"
  )
  stamp "$name" "$KUBE_VERSION"
}

build_etcd() {
  have etcd "$ETCD_VERSION" && return 0
  log "building etcd $ETCD_VERSION"
  local dir="$CACHE/build/etcd-$ETCD_VERSION"
  mkdir -p "$dir"
  (
    cd "$dir"
    [[ -f go.mod ]] || go mod init example.invalid/etcd-build >/dev/null 2>&1
    cat > main.go <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
    go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
    go mod tidy
    go build -trimpath -ldflags "-s -w" -o "$BIN/etcd" .
  )
  stamp etcd "$ETCD_VERSION"
}

# As helm's Makefile builds a release: its version and commit, and the Kubernetes version it reports
# to charts (.Capabilities.KubeVersion, kubeVersion constraints, lint deprecations) taken from the
# client-go it is built with (v0.31.x → 1.31). Without these, helm says v1.20 and `helm template`
# fails on a chart that needs a newer Kubernetes. The stamp names the commit, so a helm built
# without them (stamped with the bare version) is rebuilt.
build_helm() {
  local key="$HELM_VERSION $HELM_GIT_COMMIT"
  have helm "$key" && return 0
  log "building helm $HELM_VERSION"
  local gomod client_go major minor
  gomod="$(go mod download -json "helm.sh/helm/v3@$HELM_VERSION" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')"
  client_go="$(sed -n 's#^\s*k8s.io/client-go v\([0-9]*\.[0-9]*\)\..*#\1#p' "$gomod")"
  [[ -n "$client_go" ]] || { log "cannot read the client-go version from $gomod"; return 1; }
  major=$((${client_go%%.*} + 1)) minor="${client_go#*.}" # as the Makefile: client-go v0.31 is Kubernetes 1.31
  local v=helm.sh/helm/v3/internal/version ldflags="-s -w"
  ldflags+=" -X $v.version=$HELM_VERSION -X $v.gitCommit=$HELM_GIT_COMMIT -X $v.gitTreeState=clean"
  for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    ldflags+=" -X $pkg.k8sVersionMajor=$major -X $pkg.k8sVersionMinor=$minor"
  done
  GOBIN="$BIN" go install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  stamp helm "$key"
}

# cert-manager's controller and cainjector, part of every build so that every test run proves the
# chart's certificate chain and CA injection (test/integration/chart-cert-manager.test.ts). cert-manager's cmd/* are nested
# modules that are not on the Go module proxy, so hack/cert-manager/ holds two small mains that wire
# the main module's own controllers (self-signed and CA issuers, Certificates, CertificateRequests
# with auto-approval; the cainjector's webhook-configuration injectors). ~3.5 min cold, niced.
build_cert_manager() {
  have cert-manager-controller "$CERT_MANAGER_VERSION" && have cert-manager-cainjector "$CERT_MANAGER_VERSION" &&
    [[ -d "$CACHE/cert-manager-crds-$CERT_MANAGER_VERSION" ]] && return 0
  log "building cert-manager controller and cainjector $CERT_MANAGER_VERSION"
  local dir="$CACHE/build/cert-manager-$CERT_MANAGER_VERSION"
  mkdir -p "$dir"
  cp -r "$here/cert-manager/controller" "$here/cert-manager/cainjector" "$dir/"
  (
    cd "$dir"
    [[ -f go.mod ]] || go mod init example.invalid/cert-manager-build >/dev/null 2>&1
    nice -n 19 go get "github.com/cert-manager/cert-manager@$CERT_MANAGER_VERSION"
    nice -n 19 go mod tidy
    nice -n 19 go build -trimpath -ldflags "-s -w" -o "$BIN/cert-manager-controller" ./controller
    nice -n 19 go build -trimpath -ldflags "-s -w" -o "$BIN/cert-manager-cainjector" ./cainjector
    local src
    src="$(go list -m -f '{{.Dir}}' "github.com/cert-manager/cert-manager")"
    rm -rf "$CACHE/cert-manager-crds-$CERT_MANAGER_VERSION"
    cp -r "$src/deploy/crds" "$CACHE/cert-manager-crds-$CERT_MANAGER_VERSION"
    chmod -R u+w "$CACHE/cert-manager-crds-$CERT_MANAGER_VERSION"
    rm -f "$CACHE/cert-manager-crds-$CERT_MANAGER_VERSION/README.md"
  )
  stamp cert-manager-controller "$CERT_MANAGER_VERSION"
  stamp cert-manager-cainjector "$CERT_MANAGER_VERSION"
}

build_etcd
build_helm
build_cert_manager
build_kube kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
if ! command -v kubectl >/dev/null 2>&1 || ! kubectl version --client >/dev/null 2>&1; then
  build_kube kubectl k8s.io/kubernetes/cmd/kubectl
fi
log "binaries ready in $BIN"
ls -1 "$BIN" >&2
