#!/usr/bin/env bash
# End-to-end test on a real Kubernetes API server, on loopback, offline
# (docs/e2e.md). Builds the control plane, kwok, Flux's controllers and the
# flux CLI from the Go module proxy into .cache/e2e/<version-key>/ (or reuses
# them), builds the driver and the validator from this checkout, and runs
# tools/cmd/e2e. Arguments are passed to the driver (e.g. -keep, -v).
#
# E2E_IF_CACHED=1: run only when the binaries are already built (for a
# `make test` that must stay fast); otherwise print why and exit 0.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=SCRIPTDIR/../tools/e2e/versions.env
source tools/e2e/versions.env
export GOTOOLCHAIN=$GO_TOOLCHAIN

if [[ ${E2E_IF_CACHED:-} == 1 ]] && ! E2E_CHECK_ONLY=1 tools/e2e/build.sh >/dev/null 2>&1; then
	echo "e2e: skipped, the binaries are not built yet (run scripts/e2e.sh once, ~15 minutes cold)"
	exit 0
fi

start=$SECONDS
cache=$(nice -n "${E2E_NICE:-10}" tools/e2e/build.sh | tail -n 1)
build_time=$((SECONDS - start))

t=$SECONDS
# Beside the cached binaries, outside a CI clone: go build leaves a binary
# whose build ID matches alone, and without the commit stamped in (the
# driver and the validator print no version) a commit that changes neither
# relinks nothing. One go build links both at once otherwise (15-30 s).
tools_bin=${E2E_CACHE_DIR:-$root/.cache/e2e}/tools
mkdir -p "$tools_bin"
go build -buildvcs=false -o "$tools_bin/" ./tools/cmd/e2e ./tools/cmd/gitops-validate
tools_time=$((SECONDS - t))

t=$SECONDS
status=0
# The driver stops everything it started on SIGINT/SIGTERM; pass ours on.
"$tools_bin/e2e" -cache "$cache" -repo "$root" -validator "$tools_bin/gitops-validate" \
	-validator-args "--output text --policies $root/policies ." "$@" &
driver=$!
trap 'kill -TERM "$driver" 2>/dev/null || true' INT TERM
wait "$driver" || status=$?
# A signal interrupts the first wait; wait again for the driver's cleanup.
if kill -0 "$driver" 2>/dev/null; then
	wait "$driver" || status=$?
fi
trap - INT TERM
run_time=$((SECONDS - t))

if [[ $build_time -gt 60 ]]; then kind=cold; else kind=warm; fi
echo "e2e times ($kind): binaries ${build_time}s, driver and validator ${tools_time}s, run ${run_time}s, total $((SECONDS - start))s"
exit "$status"
