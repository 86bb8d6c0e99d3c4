#!/usr/bin/env bash
# third-party.sh: each directory of third_party/ is a Go module at the
# version below (its source from the Go module proxy, without tests and test
# data) with third_party/<directory>.patch applied; go.mod replaces the
# module with it. This script makes those trees again, or with --check
# verifies that the committed trees are exactly that (make lint runs it).
# third_party/README.md says what each patch does and why.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}

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
