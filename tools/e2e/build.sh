#!/usr/bin/env bash
# Builds the binaries of the end-to-end test from the Go module proxy into
# .cache/e2e/<key>/bin, or reuses them when that directory is complete.
# The last line printed on stdout is the cache directory. Progress goes to
# stderr. Interrupted builds resume: every binary is built to a temporary
# name and moved into place when done.
set -euo pipefail
shopt -s inherit_errexit

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=SCRIPTDIR/versions.env
source "$here/versions.env"
export GOTOOLCHAIN=$GO_TOOLCHAIN
export GOFLAGS=-buildvcs=false

key_hash=$(cat "$here/versions.env" "$here/build/kube/go.mod" "$here/build/kube/go.sum" | sha256sum | cut -c1-10)
out=${E2E_CACHE_DIR:-$root/.cache/e2e}/k8s-${KUBERNETES_VERSION#v}-flux-${FLUX_VERSION#v}-$key_hash
bin=$out/bin

log() { printf '[e2e build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

if [[ -f $out/complete ]]; then
	log "reusing $out"
	echo "$out"
	exit 0
fi
# E2E_CHECK_ONLY=1: only tell (by the exit code) whether the cache is complete.
if [[ ${E2E_CHECK_ONLY:-} == 1 ]]; then
	exit 1
fi
mkdir -p "$bin" "$out/src" "$out/kwok"
start=$SECONDS

# module_dir prints the extracted directory of module@version in the module cache.
module_dir() {
	local dir
	dir=$(go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	if [[ -z $dir ]]; then
		log "the module proxy does not serve $1"
		return 1
	fi
	echo "$dir"
}

# build_into NAME DIR PKG [go build flags...] builds PKG inside DIR into bin/NAME.
build_into() {
	local name=$1 dir=$2 pkg=$3
	shift 3
	if [[ -x $bin/$name ]]; then
		return
	fi
	log "building $name"
	local t=$SECONDS
	(cd "$dir" && go build -trimpath "$@" -o "$bin/.$name.tmp" "$pkg")
	mv "$bin/.$name.tmp" "$bin/$name"
	log "built $name in $((SECONDS - t))s"
}

# Kubernetes control plane and etcd from the wrapper module.
kube_ldflags="-s -w \
 -X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION \
 -X k8s.io/component-base/version.gitMajor=$(echo "${KUBERNETES_VERSION#v}" | cut -d. -f1) \
 -X k8s.io/component-base/version.gitMinor=$(echo "${KUBERNETES_VERSION#v}" | cut -d. -f2) \
 -X k8s.io/component-base/version.gitTreeState=clean \
 -X k8s.io/client-go/pkg/version.gitVersion=$KUBERNETES_VERSION"
build_into etcd "$here/build/kube" go.etcd.io/etcd/server/v3 -ldflags "-s -w"
for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
	build_into "$cmd" "$here/build/kube" "k8s.io/kubernetes/cmd/$cmd" -ldflags "$kube_ldflags"
done

# kwok: its go.mod has no replace directives, so it builds as published.
if [[ ! -x $bin/kwok ]]; then
	log "building kwok"
	t=$SECONDS
	GOBIN=$out/src/kwok-bin go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
	mv "$out/src/kwok-bin/kwok" "$bin/kwok"
	log "built kwok in $((SECONDS - t))s"
fi
kwok_dir=$(module_dir "sigs.k8s.io/kwok@$KWOK_VERSION")
{
	for f in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml \
		pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
		echo "---"
		cat "$kwok_dir/kustomize/stage/$f"
	done
} >"$out/kwok/stages.yaml"

# copy_module NAME MODULE@VERSION copies a module's source into src/NAME
# (the module cache is read-only) and prints the copy's path.
copy_module() {
	local dst=$out/src/$1
	if [[ ! -f $dst/go.mod ]]; then
		local src
		src=$(module_dir "$2")
		rm -rf "$dst.tmp"
		cp -r "$src" "$dst.tmp"
		chmod -R u+w "$dst.tmp"
		mv "$dst.tmp" "$dst"
	fi
	echo "$dst"
}

# Flux controllers: their go.mod replaces the api module with ./api, which
# is a separate module and so not in the published zip. Drop that replace so
# the required (published) api version is used.
for ctl in source-controller:$SOURCE_CONTROLLER_VERSION kustomize-controller:$KUSTOMIZE_CONTROLLER_VERSION \
	helm-controller:$HELM_CONTROLLER_VERSION notification-controller:$NOTIFICATION_CONTROLLER_VERSION; do
	name=${ctl%%:*}
	version=${ctl#*:}
	if [[ ! -x $bin/$name ]]; then
		dir=$(copy_module "$name" "github.com/fluxcd/$name@$version")
		(cd "$dir" && go mod edit -dropreplace "github.com/fluxcd/$name/api" &&
			go mod edit -require "github.com/fluxcd/$name/api@$version")
		build_into "$name" "$dir" . -mod=mod -ldflags "-s -w"
	fi
done

# flux CLI. Its embedded install manifests are generated from release
# downloads by flux2's Makefile, which cannot run offline; the e2e never
# runs `flux install` or `flux bootstrap`, so the embed gets one empty file
# and those two commands are unusable in this binary.
if [[ ! -x $bin/flux ]]; then
	dir=$(copy_module flux2 "github.com/fluxcd/flux2/v2@$FLUX_VERSION")
	mkdir -p "$dir/cmd/flux/manifests"
	: >"$dir/cmd/flux/manifests/empty.yaml"
	build_into flux "$dir" ./cmd/flux -mod=mod -ldflags "-s -w -X main.VERSION=${FLUX_VERSION#v}"
fi

rm -rf "$out/src"
date -u +%FT%TZ >"$out/complete"
log "done in $((SECONDS - start))s: $out ($(du -sh "$bin" | cut -f1))"
echo "$out"
