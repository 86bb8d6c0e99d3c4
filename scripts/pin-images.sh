#!/usr/bin/env bash
# pin-images.sh: pins the fitness images in apps/homelab/kustomization.yaml
# and the backup image in the backup CronJobs (infrastructure/backups)
# to the digests of the reproducible build (tools/cmd/imagebuild) of the
# current commit, and names that commit in the kustomization. The images workflow pushes
# byte-identical images when that commit is tagged for a release; Flux image
# automation moves the pin on from there (docs/delivery.md).
#
#   scripts/pin-images.sh        # then review and commit the kustomization
#
# The build's inputs (src/, go.mod, go.sum and the builder itself) must be
# committed: a digest of uncommitted source names no commit.
set -euo pipefail

cd "$(dirname "$0")/.."
file=apps/homelab/kustomization.yaml
inputs=(src go.mod go.sum tools/cmd/imagebuild tools/internal/ociimage)

if [[ -n "$(git status --porcelain -- "${inputs[@]}")" ]]; then
	echo "pin-images: uncommitted changes in the build's inputs; commit them first:" >&2
	git status --short -- "${inputs[@]}" >&2
	exit 1
fi
commit=$(git rev-parse HEAD)

# The exact toolchain go.mod names: another one builds other bytes.
GOTOOLCHAIN=$(awk '$1 == "toolchain" { print $2 }' go.mod)
export GOTOOLCHAIN

# imagebuild prints "<image> sha256:<index digest>" per image.
digests=$(go run ./tools/cmd/imagebuild web consumer backup)

while read -r image digest; do
	if [[ ! "${digest}" =~ ^sha256:[0-9a-f]{64}$ ]]; then
		echo "pin-images: unexpected imagebuild output: ${image} ${digest}" >&2
		exit 1
	fi
	if [[ "${image}" == backup ]]; then
		# No image automation for the backup jobs: the digest is pinned in
		# each CronJob, after the tag it is released under.
		for cronjob in infrastructure/backups/*-cronjob.yaml; do
			sed -E -i "s|(image: ghcr\.io/homelab-gitops/homelab-backup:[^@]+@)sha256:[0-9a-f]{64}$|\1${digest}|" "${cronjob}"
			if ! grep -qF "@${digest}" "${cronjob}"; then
				echo "pin-images: could not write the backup digest into ${cronjob}" >&2
				exit 1
			fi
		done
		continue
	fi
	marker="{\"\$imagepolicy\": \"flux-system:fitness-${image}:digest\"}"
	if ! grep -qF "${marker}" "${file}"; then
		echo "pin-images: ${file} has no line with the setter ${marker}" >&2
		exit 1
	fi
	# Only the value changes; the setter marker stays for image automation.
	sed -E -i "s|^( *digest: )sha256:[0-9a-f]{64}( # \{\"\\\$imagepolicy\": \"flux-system:fitness-${image}:digest\"\})$|\1${digest}\2|" "${file}"
	if ! grep -qF "digest: ${digest} # ${marker}" "${file}"; then
		echo "pin-images: could not write ${image}'s digest into ${file}" >&2
		exit 1
	fi
done <<<"${digests}"

sed -E -i "s|^(# +source commit: )[0-9a-f]{40}$|\1${commit}|" "${file}"
if ! grep -qE "^# +source commit: ${commit}$" "${file}"; then
	echo "pin-images: ${file} has no '# source commit: <sha>' line to update" >&2
	exit 1
fi

echo "${digests}"
git --no-pager diff --stat -- "${file}" infrastructure/backups
