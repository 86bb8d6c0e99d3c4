#!/usr/bin/env bash
# bench-validate.sh: the shell pipeline people use today (kustomize build for
# every Flux Kustomization, then kubeconform -strict, then conftest test)
# against gitops-validate, on this repository and on generated repositories
# of 10, 100 and 1,000 Kustomizations. Prints wall and CPU time, the speed-up
# and peak memory of both.
#
# Tools are installed with `go install` through the module proxy into
# .cache/bin/<tool>-<version> (ignored by Git) and reused.
#
# Generated repositories come in two kinds: "synthetic" takes every
# application shape of gitops-synth in turn (component, overlay, Helm,
# StatefulSet, plain directory), "plain" has only plain-manifest
# directories, each with postBuild substitution, dependsOn chains, an
# HTTPRoute and NetworkPolicies (about 11 objects per Kustomization).
#
# Environment: BENCH_SIZES (default "10 100 1000"); BENCH_KINDS (default
# "synthetic plain"); BENCH_REPOS, extra
# repository directories to measure too (for example checkouts of public
# homelab repositories); BENCH_RUNS (default 3), how many runs each figure
# is the median of (the pipeline is run once when it takes 30 s or more);
# GOTOOLCHAIN.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}
export GOFLAGS=${GOFLAGS:--buildvcs=false}
# v5.8.2 is built on kustomize api/kyaml v0.21.2, the version the validator
# uses (v5.8.3 needs a kube-openapi the module proxy refuses).
KUSTOMIZE_VERSION=v5.8.2
KUBECONFORM_VERSION=v0.8.0
CONFTEST_VERSION=v0.71.1
SIZES=${BENCH_SIZES:-10 100 1000}
RUNS=${BENCH_RUNS:-3}
BIN="$ROOT/.cache/bin"
mkdir -p "$BIN"

TIME=/usr/bin/time
if [[ ! -x $TIME ]]; then
	echo "bench-validate: /usr/bin/time is required (Debian package: time)" >&2
	exit 2
fi

# install NAME MODULE VERSION: go install into .cache/bin/NAME-VERSION.
install() {
	local name=$1 module=$2 version=$3 target="$BIN/$1-$3"
	if [[ ! -x $target ]]; then
		echo "installing $name $version ..." >&2
		local tmp
		tmp=$(mktemp -d)
		if ! GOBIN="$tmp" go install "$module@$version" >&2 || [[ ! -x "$tmp/$name" ]]; then
			echo "bench-validate: cannot install $module@$version" >&2
			exit 2
		fi
		mv "$tmp/$name" "$target"
		rm -rf "$tmp"
	fi
	echo "$target"
}

KUSTOMIZE=$(install kustomize sigs.k8s.io/kustomize/kustomize/v5 "$KUSTOMIZE_VERSION") || exit 2
KUBECONFORM=$(install kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION") || exit 2
CONFTEST=$(install conftest github.com/open-policy-agent/conftest "$CONFTEST_VERSION") || exit 2

echo "building gitops-validate ..." >&2
(cd "$ROOT" && go build -o "$BIN/gitops-validate" ./tools/cmd/gitops-validate && go build -o "$BIN/gitops-synth" ./tools/cmd/gitops-synth)
VALIDATE="$BIN/gitops-validate"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/no-schemas"

# dirs REPO: what the pipeline builds, as CI scripts do (for example
# flux2-kustomize-helm-example's scripts/validate.sh): every directory with a
# kustomization.yaml, plus every Flux Kustomization's spec.path that has
# none (Flux generates one), so that both sides render the same
# directories.
dirs() {
	local repo=$1
	{
		find "$repo" \( -name .git -o -name .cache -o -name testdata -o -name node_modules \) -prune -o \
			-name kustomization.yaml -printf '%h\n'
		# spec.path of the Flux Kustomizations, wherever they are declared
		# (clusters/, or a ks.yaml beside the application); an absolute
		# path: is some other field (a probe's).
		grep -rlE --exclude-dir=.git --exclude-dir=.cache --exclude-dir=testdata --include='*.yaml' --include='*.yml' \
			'^apiVersion: kustomize\.toolkit\.fluxcd\.io/' "$repo" |
			xargs -r grep -hoE '^\s+path:\s*\S+' |
			awk '{print $2}' | tr -d '"' | grep -v '^/' | sed "s|^\./||; s|^|$repo/|" || true
	} | while read -r d; do if [[ -d $d ]]; then realpath "$d"; fi; done | sort -u
}

# pipeline REPO POLICIES: kustomize build, kubeconform -strict and conftest
# test for every directory. kubeconform runs offline: with no network it has
# no schemas to fetch, so it parses and checks what it can
# (-ignore-missing-schemas), which only makes the pipeline faster.
pipeline() {
	local repo=$1 policies=$2 out="$WORK/pipeline-out.yaml" d
	for d in $(dirs "$repo"); do
		"$KUSTOMIZE" build --load-restrictor=LoadRestrictionsNone "$d" >"$out" 2>/dev/null || true
		"$KUBECONFORM" -strict -ignore-missing-schemas -summary=false \
			-schema-location "$WORK/no-schemas/{{.ResourceKind}}.json" "$out" >/dev/null 2>&1 || true
		if [[ -n $policies ]]; then
			"$CONFTEST" test --all-namespaces --no-fail -p "$policies" "$out" >/dev/null 2>&1 || true
		fi
	done
}
export -f pipeline dirs
export KUSTOMIZE KUBECONFORM CONFTEST WORK

# measure CMD...: prints "wall user+sys maxrss_kb" of one run.
measure() {
	local stats="$WORK/time.txt"
	"$TIME" -f '%e %U %S %M' -o "$stats" "$@" >/dev/null 2>&1 || true
	tail -n 1 "$stats" | awk '{printf "%.2f %.2f %d\n", $1, $2+$3, $4}'
}

# repeat RUNS CMD...: measures RUNS runs of CMD, a line each.
repeat() {
	local runs=$1 i
	shift
	for ((i = 0; i < runs; i++)); do measure "$@"; done
}

# median: of measure lines on stdin, the one with the median wall time. The
# machine is shared, and one run of a sub-second command is mostly noise.
median() {
	sort -n | awk '{ line[NR] = $0 } END { print line[int((NR + 1) / 2)] }'
}

# The validator keeps chart renders in a cache of its own here, not the
# user's: kcount's run fills it, so the measured runs find every chart
# rendered, as a pre-commit hook or a CI job with a kept cache does. VFLAGS
# (--render-cache off) measures runs that render every chart.
VFLAGS=(--render-cache "$WORK/renders")

kcount() { # number of Kustomizations gitops-validate rendered
	"$VALIDATE" -o json "${VFLAGS[@]}" --policies - "$1" >"$WORK/count.json" 2>/dev/null || true
	awk -F: '/"kustomizations"/ && !done {gsub(/[ ,]/,"",$2); print $2; done=1}' "$WORK/count.json"
}

row() { # NAME REPO POLICIES
	local name=$1 repo=$2 pol=$3 ks builds
	ks=$(kcount "$repo")
	builds=$(dirs "$repo" | wc -l)
	read -r pw pc pm < <(measure bash -c "pipeline '$repo' '$pol'")
	# A pipeline run under 30 s is repeated too, so both sides are medians.
	if awk -v w="$pw" 'BEGIN { exit !(w < 30) }'; then
		read -r pw pc pm < <({
			echo "$pw $pc $pm"
			repeat $((RUNS - 1)) bash -c "pipeline '$repo' '$pol'"
		} | median)
	fi
	read -r vw vc vm < <(repeat "$RUNS" "$VALIDATE" -o json "${VFLAGS[@]}" --policies "${pol:--}" "$repo" | median)
	printf '%-14s %6s %6s %10s %10s %10s %10s %8s %8s %9s %9s %10s\n' "$name" "$ks" "$builds" "$pw" "$pc" "$vw" "$vc" \
		"$(awk -v a="$pw" -v b="$vw" 'BEGIN{ if (b>0) printf "%.1fx", a/b; else print "-" }')" \
		"$(awk -v a="$pc" -v b="$vc" 'BEGIN{ if (b>0) printf "%.1fx", a/b; else print "-" }')" \
		"$((pm / 1024))" "$((vm / 1024))" \
		"$(awk -v w="$vw" -v k="$ks" 'BEGIN{ if (k>0) printf "%.1f", 1000*w/k; else print "-" }')"
}

echo
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); kustomize $KUSTOMIZE_VERSION, kubeconform $KUBECONFORM_VERSION, conftest $CONFTEST_VERSION"
printf '%-14s %6s %6s %10s %10s %10s %10s %8s %8s %9s %9s %10s\n' repository ks builds pipe-wall pipe-cpu val-wall val-cpu speedup cpu-x pipe-MB val-MB val-ms/ks
POLICIES=""
[[ -d "$ROOT/policies" ]] && POLICIES="$ROOT/policies"
row "this-repo" "$ROOT" "$POLICIES"
VFLAGS=(--render-cache off)
row "this-repo-cold" "$ROOT" "$POLICIES"
VFLAGS=(--render-cache "$WORK/renders")
for repo in ${BENCH_REPOS:-}; do
	row "$(basename "$repo" | cut -c1-14)" "$(realpath "$repo")" ""
done
for n in $SIZES; do
	for kind in ${BENCH_KINDS:-synthetic plain}; do
		shapes=()
		[[ $kind == plain ]] && shapes=(-shapes plain)
		"$BIN/gitops-synth" -n "$n" "${shapes[@]}" -o "$WORK/$kind-$n"
		row "$kind-$n" "$WORK/$kind-$n" "$POLICIES"
	done
done
echo
echo "ks: Flux Kustomizations the validator rendered; builds: directories the pipeline built; times in seconds (wall, and user+sys CPU); speedup = pipeline wall / validator wall;"
echo "cpu-x = pipeline CPU / validator CPU (steadier than wall time on a shared machine); val-ms/ks = validator wall ms per Kustomization (linear growth keeps it flat)."
echo "MB: peak resident memory; the validator also checks graph, references and combined policies, which the pipeline cannot."
echo "The validator's runs find the charts in its render cache (filled by a first run); this-repo-cold renders every chart (--render-cache off),"
echo "which the pipeline does not do at all."
