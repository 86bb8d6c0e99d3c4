#!/usr/bin/env bash
# Install Cilium before Flux (docs/bootstrap.md, "Cilium before Flux").
#
# Renders the HelmRelease kube-system/cilium of this tree (chart from
# charts/, values from infrastructure/cni/release.yaml, variables from
# clusters/homelab/cluster-vars.yaml) with the validator's renderer and
# applies the objects with Helm's ownership metadata, so that when Flux
# reconciles infra-cni, helm-controller's install adopts them instead of
# failing with "exists and cannot be imported".
#
#   scripts/bootstrap-cni.sh            render, apply, wait for the agents and the operator
#   scripts/bootstrap-cni.sh -print     only print the manifest
#
# KUBECONFIG must point at the new cluster (an admin kubeconfig from
# kubeadm). Re-running is safe: server-side apply with its own field manager.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}
release=${CNI_RELEASE:-kube-system/cilium}
timeout=${CNI_TIMEOUT:-10m}

manifest=$(mktemp)
trap 'rm -f "$manifest"' EXIT
go run ./tools/cmd/bootstrap-render -cluster homelab -release "$release" . >"$manifest"

if [[ ${1:-} == -print ]]; then
	cat "$manifest"
	exit 0
fi
if [[ $# -gt 0 ]]; then
	echo "usage: $0 [-print]" >&2
	exit 2
fi

kubectl apply --server-side --field-manager=bootstrap-cni -f "$manifest"
ns=${release%%/*}
kubectl -n "$ns" rollout status daemonset/cilium --timeout="$timeout"
kubectl -n "$ns" rollout status deployment/cilium-operator --timeout="$timeout"
# Nodes turn Ready once the agent on each has written the CNI config.
kubectl wait --for=condition=Ready nodes --all --timeout="$timeout"
echo "Cilium is up; install Flux next (docs/bootstrap.md, step 4): the HelmRelease $release adopts these objects."
