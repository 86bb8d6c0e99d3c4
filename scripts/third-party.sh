#!/usr/bin/env bash
# third-party.sh: each directory of third_party/ is a Go module at the
# version below (its source from the Go module proxy, without tests and test
# data) with third_party/<directory>.patch applied; go.mod replaces the
# module with it. This script makes those trees again, or with --check
# verifies that the committed trees are exactly that (make lint runs it).
# With --upstream-tests it runs each module's own test suite (which the
# trees leave out) on the unpatched and the patched source and fails when
# the patched one fails a test the unpatched one passes; tests that need
# what this machine lacks (plugins, helm, the network) fail in both.
# third_party/README.md says what each patch does and why.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}

# Tests of a module that its patch changes on purpose, by directory, with
# the reason (third_party/README.md). flux-kustomize: the generator lists
# a directory's files without decoding them (the renderer reports an
# undecodable file after the build, in kustomize-controller's words), so
# scanManifests no longer fails on one.
declare -A CHANGED_TESTS=(
	[flux-kustomize]="TestScanManifests TestScanManifests_WithIgnorePatterns"
)

# directory module version
MODULES=(
	"kustomize-api sigs.k8s.io/kustomize/api v0.21.2"
	"flux-kustomize github.com/fluxcd/pkg/kustomize v1.44.0"
)

check=false
[[ ${1:-} == --check ]] && check=true
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0

# failing_tests DIR: the sorted names of the tests that fail in DIR
# (stdout), and the number that pass (stderr).
failing_tests() {
	local out
	out=$(cd "$1" && { go test -count=1 -v ./... 2>&1 || true; })
	{ grep -E '^\s*--- FAIL|^FAIL\s.*\[(build|setup) failed\]' <<<"$out" || true; } | sed 's/ (.*//; s/\t[0-9.]*s$//' | sort -u
	echo "$(grep -cE '^\s*--- PASS' <<<"$out") passed" >&2
}

if [[ ${1:-} == --upstream-tests ]]; then
	# envtest (Flux's tests start an API server) uses the e2e binaries
	# when they are built.
	if e2e=$(E2E_CHECK_ONLY=1 "$ROOT/tools/e2e/build.sh" 2>/dev/null | tail -n 1) && [[ -d $e2e/bin ]]; then
		export KUBEBUILDER_ASSETS=$e2e/bin
	fi
	for entry in "${MODULES[@]}"; do
		read -r dir module version <<<"$entry"
		src=$(cd "$ROOT" && go mod download -json "$module@$version" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
		for side in upstream patched; do
			mkdir "$work/$dir-$side"
			cp -r "$src/." "$work/$dir-$side/"
			chmod -R u+w "$work/$dir-$side"
		done
		(cd "$work/$dir-patched" && git apply -p1 "$ROOT/third_party/$dir.patch")
		for side in upstream patched; do
			# A module of a monorepo replaces its siblings with ../<dir>,
			# which the module zip does not hold: use the required versions.
			(
				cd "$work/$dir-$side"
				sed -n 's#^\(replace\)\{0,1\}\s*\([^ ]*\)\( v[^ ]*\)\{0,1\} => \.\{1,2\}/.*#\2#p' go.mod |
					while read -r old; do go mod edit -dropreplace "$old"; done
				go mod tidy >/dev/null 2>&1 || true
			)
		done
		echo "third-party: $module@$version, its own tests, unpatched:" >&2
		failing_tests "$work/$dir-upstream" >"$work/$dir-upstream.fail"
		echo "third-party: $module@$version, its own tests, with $dir.patch:" >&2
		failing_tests "$work/$dir-patched" >"$work/$dir-patched.fail"
		changed=${CHANGED_TESTS[$dir]:-}
		# A changed test and its subtests.
		new=$(comm -13 "$work/$dir-upstream.fail" "$work/$dir-patched.fail" |
			grep -vE -- "--- FAIL: (${changed// /|})(/|\$)" || true)
		if [[ -n $changed ]]; then
			echo "third-party: changed on purpose by $dir.patch: $changed" >&2
		fi
		if [[ -n $new ]]; then
			echo "third-party: $dir.patch breaks tests of $module:" >&2
			echo "$new" >&2
			status=1
		else
			echo "third-party: $dir.patch fails no test of $module that passes without it ($(wc -l <"$work/$dir-upstream.fail") fail on this machine either way)" >&2
		fi
	done
	exit $status
fi
for entry in "${MODULES[@]}"; do
	read -r dir module version <<<"$entry"
	dest="$ROOT/third_party/$dir"
	patch="$ROOT/third_party/$dir.patch"
	src=$(cd "$ROOT" && go mod download -json "$module@$version" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
	if [[ -z $src || ! -d $src ]]; then
		echo "third-party: cannot download $module@$version" >&2
		exit 2
	fi
	tree="$work/$dir"
	mkdir "$tree"
	tar -C "$src" --exclude='*_test.go' --exclude=testdata -cf - . | tar -C "$tree" -xf -
	chmod -R u+w "$tree"
	(cd "$tree" && git apply -p1 "$patch")
	if $check; then
		if ! diff -r "$tree" "$dest" >"$work/$dir.diff"; then
			echo "third-party: $dest is not $module@$version with $(basename "$patch"); run scripts/third-party.sh" >&2
			head -n 40 "$work/$dir.diff" >&2
			status=1
			continue
		fi
		echo "third-party: $dest is $module@$version with $(basename "$patch")"
		continue
	fi
	rm -rf "$dest"
	mv "$tree" "$dest"
	echo "third-party: wrote $dest ($module@$version with $(basename "$patch"))"
done
exit $status
