#!/usr/bin/env bash
# Rebuild the chart mirror (charts/) from upstream sources: every chart in
# charts/mirror.yaml is packaged from its upstream Git repository at the
# pinned tag and commit, and must come out with the recorded digest
# (docs/charts.md). Upstream repositories are read from local copies found
# under the directories in CHART_SOURCES (colon-separated; each holds
# <owner>+<name> or <owner>+<name>/repo Git directories), else cloned into
# .cache/chart-src (needs network). Extra arguments go to chartmirror,
# e.g. -update after moving a pin.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}

args=(-dir charts -clone-dir "$root/.cache/chart-src")
if [[ -n ${CHART_SOURCES:-} ]]; then
	IFS=: read -ra dirs <<<"$CHART_SOURCES"
	for d in "${dirs[@]}"; do
		args+=(-search "$d")
	done
fi
exec go run ./tools/cmd/chartmirror "${args[@]}" "$@" build
