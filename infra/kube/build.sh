#!/usr/bin/env bash
# Builds kube-apiserver, kubectl and etcd from the Go module proxy into $1 (a cache folder).
# NOTE: k8s.io/kubernetes points its staging modules at ./staging with relative replaces, which a
# consumer cannot follow; a wrapper module replaces each one with its published v0.<minor>.<patch>.
set -euo pipefail
out=${1:?usage: build.sh OUT_DIR}
k8s_version=${K8S_VERSION:-v1.34.4}
staging_version=v0.${k8s_version#v1.}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
cd "$work"
go mod init rdsflow.io/kube-build >/dev/null 2>&1
go mod download -json "k8s.io/kubernetes@$k8s_version" >/dev/null
gomod=$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$k8s_version.mod
# every "k8s.io/x => ./staging/src/k8s.io/x" becomes "k8s.io/x => k8s.io/x v0.N.M"
sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\1#p' "$gomod" | while read -r mod; do
  go mod edit -replace "$mod=$mod@$staging_version"
done
go mod edit -require "k8s.io/kubernetes@$k8s_version"
cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
# tidy resolves etcd at the version kubernetes itself requires, so apiserver and etcd match
go mod tidy
export CGO_ENABLED=0
# the release build stamps the version with -X; without it the binaries call themselves v0.0.0-master
minor=${k8s_version#v1.}; minor=${minor%%.*}
stamp="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  stamp+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done
go build -trimpath -ldflags="$stamp" -o "$out/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
go build -trimpath -ldflags="$stamp" -o "$out/kubectl" k8s.io/kubernetes/cmd/kubectl
go build -trimpath -ldflags='-s -w' -o "$out/etcd" go.etcd.io/etcd/server/v3
