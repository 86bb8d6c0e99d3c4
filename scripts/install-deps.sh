#!/usr/bin/env bash
# install-deps.sh: installs the Debian packages the tests and the local stack
# use, once. Packages already installed are left alone, so a second run costs
# a few dpkg look-ups.
#
#   rabbitmq-server   the real broker behind scripts/rabbitmq.sh
#   nginx-light, libnginx-mod-stream   `nginx -t` and the edge failover tests (stream is a dynamic module)
#   keepalived        the VIP failover test (network namespaces, as root) and its config test
#   chromium, chromium-driver   the browser test
#   git               rendering base revisions, the e2e Git server
#   ShellCheck        lints scripts/ and the run: steps of the workflows
#   time              peak memory figures in make bench-validate and make validate-realworld
#   jq                reads the validator's JSON reports in make validate-realworld
#   etcd-client       etcdctl for the etcd snapshot script test (tools/internal/etcdsnapshot)
#   iproute2          `ip netns`: the RabbitMQ cluster's nodes in namespaces (fault tests, make chaos)
#   nftables, cloud-init   the hosts' firewall rulesets (`nft -c`, loaded in a network namespace) and
#                     their cloud-init user-data (`cloud-init schema`), tools/internal/hostprov
set -euo pipefail

packages=(rabbitmq-server nginx-light libnginx-mod-stream keepalived chromium chromium-driver git shellcheck time jq etcd-client iproute2 nftables cloud-init)

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi
}

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

lock=/tmp/homelab-apt.lock
exec 9>"$lock"
flock -w 900 9 || { echo "install-deps.sh: timed out waiting for another install" >&2; exit 1; }

echo "install-deps.sh: installing ${missing[*]} (first run only)" >&2
# Packaged services (rabbitmq-server, nginx, keepalived) must not start: tests run their
# own private instances on free ports.
policy=/usr/sbin/policy-rc.d created=
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
	as_root chmod 755 "$policy"
	created=1
fi
trap '[ -n "$created" ] && as_root rm -f "$policy"' EXIT

apt_get() { DEBIAN_FRONTEND=noninteractive as_root apt-get -o DPkg::Lock::Timeout=600 -q "$@"; }
if ! apt-cache policy "${missing[0]}" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
	apt_get update >/dev/null
fi
apt_get install -y --no-install-recommends "${missing[@]}" >/dev/null
