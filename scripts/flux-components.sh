#!/usr/bin/env bash
# Reproduce clusters/homelab/flux-system/gotk-components.yaml, the file
# `flux bootstrap` writes, from upstream sources and without release
# downloads: what flux2's release does, step by step, offline.
#
#   1. Each controller's release assets: `kustomize build config/crd` and
#      `kustomize build config/manager` of its Git tag (the tags that flux2's
#      manifests/bases name in their release download URLs).
#   2. flux2's manifests/scripts/bundle.sh: each base, rbac and policies
#      built with those assets in place of the URLs, into cmd/flux/manifests.
#   3. The flux CLI of the same tag built with that embed, then
#      `flux install --export` with bootstrap's components.
#
# Upstream Git repositories are read from local copies under the
# directories in FLUX_SOURCES (colon-separated; each holds fluxcd+<name> or
# fluxcd+<name>/repo Git directories), else cloned into .cache/flux-src
# (needs network). -check compares instead of writing (exit 1 on a
# difference).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}
# shellcheck source=/dev/null
source tools/e2e/versions.env

out=clusters/homelab/flux-system/gotk-components.yaml
check=false
[[ ${1:-} == -check ]] && check=true
components_extra=image-reflector-controller,image-automation-controller
kustomize_version=v5.7.1

work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

# gitdir NAME prints a Git directory of fluxcd/NAME.
gitdir() {
	local name=$1 d
	IFS=: read -ra dirs <<<"${FLUX_SOURCES:-}"
	for d in "${dirs[@]}"; do
		for cand in "$d/fluxcd+$name/repo" "$d/fluxcd+$name"; do
			if git --git-dir="$cand" rev-parse --git-dir >/dev/null 2>&1; then
				echo "$cand"
				return
			fi
		done
	done
	local clone=$root/.cache/flux-src/$name.git
	if [[ ! -d $clone ]]; then
		git clone --quiet --bare "https://github.com/fluxcd/$name" "$clone" >&2
	fi
	echo "$clone"
}

# extract NAME TAG DEST PATH... writes PATHs of fluxcd/NAME at TAG into DEST
# and prints the tag's commit.
extract() {
	local name=$1 tag=$2 dest=$3
	shift 3
	local dir
	dir=$(gitdir "$name")
	mkdir -p "$dest"
	git --git-dir="$dir" archive "$tag" "$@" | tar -x -C "$dest"
	git --git-dir="$dir" rev-parse "$tag^{commit}"
}

kbuild() { go run "sigs.k8s.io/kustomize/kustomize/v5@$kustomize_version" build "$@"; }

provenance=()
flux_commit=$(extract flux2 "$FLUX_VERSION" "$work/flux2" manifests)
provenance+=("flux2 $FLUX_VERSION $flux_commit")
manifests=$work/flux2/manifests

# The bases that `flux install` embeds for bootstrap's components.
bundle=$work/bundle
mkdir -p "$bundle"
for base in source-controller kustomize-controller helm-controller notification-controller \
	image-reflector-controller image-automation-controller; do
	kfile=$manifests/bases/$base/kustomization.yaml
	while read -r url; do
		# https://github.com/fluxcd/<name>/releases/download/<tag>/<name>.<asset>.yaml
		name=$(cut -d/ -f5 <<<"$url")
		tag=$(cut -d/ -f8 <<<"$url")
		asset=$(basename "$url")
		src=$work/src/$name-$tag
		if [[ ! -d $src ]]; then
			commit=$(extract "$name" "$tag" "$src" config)
			provenance+=("$name $tag $commit")
		fi
		case $asset in
		*.crds.yaml) kbuild "$src/config/crd" >"$manifests/bases/$base/$asset" ;;
		*.deployment.yaml) kbuild "$src/config/manager" >"$manifests/bases/$base/$asset" ;;
		*)
			echo "flux-components: $kfile: unknown release asset $asset" >&2
			exit 1
			;;
		esac
		sed -i "s#$url#$asset#" "$kfile"
	done < <(grep -o 'https://github.com/fluxcd/[^ ]*\.yaml' "$kfile")
	kbuild "$manifests/bases/$base" >"$bundle/$base.yaml"
done
kbuild "$manifests/rbac" >"$bundle/rbac.yaml"
kbuild "$manifests/policies" >"$bundle/policies.yaml"

# The flux CLI of the same tag with that embed.
flux_src=$(go mod download -json "github.com/fluxcd/flux2/v2@$FLUX_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
cp -r "$flux_src" "$work/flux-cli"
chmod -R u+w "$work/flux-cli"
rm -rf "$work/flux-cli/cmd/flux/manifests"
cp -r "$bundle" "$work/flux-cli/cmd/flux/manifests"
(cd "$work/flux-cli" && go build -mod=mod -trimpath -ldflags "-s -w -X main.VERSION=${FLUX_VERSION#v}" -o "$work/flux" ./cmd/flux)

"$work/flux" install --export --components-extra="$components_extra" >"$work/gotk-components.yaml"

for p in "${provenance[@]}"; do
	echo "flux-components: $p" >&2
done
if $check; then
	if ! diff -u "$out" "$work/gotk-components.yaml" >&2; then
		echo "flux-components: $out differs from what Flux $FLUX_VERSION's sources produce" >&2
		exit 1
	fi
	echo "flux-components: $out is what Flux $FLUX_VERSION's sources produce" >&2
else
	cp "$work/gotk-components.yaml" "$out"
	echo "flux-components: wrote $out ($(wc -l <"$out") lines, sha256 $(sha256sum "$out" | cut -c1-64))" >&2
fi
