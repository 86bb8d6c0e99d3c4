#!/usr/bin/env bash
# rabbitmq.sh: a private RabbitMQ broker as a local process, for tests and
# `make run`. Every instance has its own state directory, Erlang node name,
# AMQP, distribution and epmd ports, so several can run side by side and none
# touches a system-wide broker.
#
#   scripts/rabbitmq.sh install          install Debian's rabbitmq-server if missing
#   scripts/rabbitmq.sh start DIR        start (or restart) the broker kept in DIR; prints its AMQP URL
#   scripts/rabbitmq.sh stop DIR         stop it (data kept: start DIR again resumes on the same ports)
#   scripts/rabbitmq.sh status DIR       exit 0 when it answers
#   scripts/rabbitmq.sh url DIR          print its AMQP URL (and its AMQPS URL on a second line)
#   scripts/rabbitmq.sh tls-url DIR      print its AMQPS URL only (fails without TLS)
#   scripts/rabbitmq.sh kill DIR         kill -9 the node (as a crash would); start DIR brings it back
#   scripts/rabbitmq.sh name DIR         print its Erlang node name
#   scripts/rabbitmq.sh ctl DIR ARGS...  run rabbitmqctl ARGS against it (in its namespace, with its cookie)
#   scripts/rabbitmq.sh upgrade DIR ARGS...  the same with rabbitmq-upgrade (await_online_quorum_plus_one)
#
# A cluster of N nodes (one Erlang cookie, cluster_partition_handling =
# pause_minority) lives in DIR/node-1 .. DIR/node-N; start, stop, kill and
# status also work on a single DIR/node-I:
#
#   scripts/rabbitmq.sh cluster-start DIR N   start (or restart) it; prints one AMQP URL per node
#   scripts/rabbitmq.sh cluster-stop DIR      stop every node (and remove its network namespaces)
#   scripts/rabbitmq.sh cluster-urls DIR      print one AMQP URL per node
#   scripts/rabbitmq.sh partition DIR I       cut node I off from the others and the host
#   scripts/rabbitmq.sh heal DIR I            reconnect it
#
# With RABBITMQ_NETNS=1 on the first cluster-start (root only) each node runs
# in a network namespace of its own, on a bridge with a private /24: every
# node has its own epmd and the same ports on its own address, and partition
# takes the node's link to the bridge down. Without it the nodes share
# 127.0.0.1 (each with its own ports, one epmd) and cannot be partitioned.
#
# Ports may be fixed with RABBITMQ_AMQP_PORT, RABBITMQ_DIST_PORT,
# RABBITMQ_EPMD_PORT and RABBITMQ_TLS_PORT on the first start; otherwise free
# loopback ports are picked.
#
# TLS: when RABBITMQ_TLS_DIR names a directory holding ca.pem, server.pem and
# server-key.pem (PEM) on the first start, the broker also listens for AMQPS on
# a loopback port, with TLS 1.2 and 1.3, and requires a client certificate
# signed by ca.pem, as the cluster's RabbitmqCluster (tls.caSecretName) does.
# The files are copied into DIR/tls, so later starts do not need the variable.
set -euo pipefail

RABBIT_BIN=/usr/lib/rabbitmq/bin
START_TIMEOUT=${RABBITMQ_START_TIMEOUT:-90}

die() { echo "rabbitmq.sh: $*" >&2; exit 1; }

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi
}

install() {
	[ -x "$RABBIT_BIN/rabbitmq-server" ] && return 0
	local lock=/tmp/homelab-apt.lock
	(
		flock -w 600 9 || die "timed out waiting for another install"
		[ -x "$RABBIT_BIN/rabbitmq-server" ] && exit 0
		echo "rabbitmq.sh: installing Debian's rabbitmq-server (first run only)" >&2
		# The package's own service must not start: tests run private brokers.
		local policy=/usr/sbin/policy-rc.d created=
		if [ ! -e "$policy" ]; then
			printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
			as_root chmod 755 "$policy"
			created=1
		fi
		if ! apt-cache policy rabbitmq-server 2>/dev/null | grep -q 'Candidate: [0-9]'; then
			as_root apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null
		fi
		DEBIAN_FRONTEND=noninteractive as_root apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends rabbitmq-server >/dev/null
		[ -n "$created" ] && as_root rm -f "$policy"
		exit 0
	) 9>"$lock"
	[ -x "$RABBIT_BIN/rabbitmq-server" ] || die "rabbitmq-server is not installed"
}

# free_port prints a loopback TCP port nobody listens on. Ports are drawn from
# a range below the kernel's ephemeral range so a client socket cannot take it.
free_port() {
	local port _
	for _ in $(seq 1 200); do
		port=$((20000 + RANDOM % 12000))
		if ! ss -Htln "sport = :$port" 2>/dev/null | grep -q .; then
			echo "$port"
			return 0
		fi
	done
	die "no free port found"
}

load_env() {
	local dir=$1
	[ -f "$dir/instance.env" ] || die "$dir holds no broker (run start first)"
	# shellcheck source=/dev/null
	. "$dir/instance.env"
	export RABBITMQ_NODENAME RABBITMQ_NODE_IP_ADDRESS RABBITMQ_NODE_PORT RABBITMQ_DIST_PORT \
		ERL_EPMD_PORT ERL_EPMD_ADDRESS RABBITMQ_MNESIA_BASE RABBITMQ_LOG_BASE \
		RABBITMQ_CONFIG_FILE RABBITMQ_ENABLED_PLUGINS_FILE RABBITMQ_PID_FILE \
		RABBITMQ_CONF_ENV_FILE RABBITMQ_ADVANCED_CONFIG_FILE RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS HOME \
		RABBITMQ_USE_LONGNAME
	# in_ns runs a command in the node's network namespace, if it has one.
	in_ns=()
	if [ -n "${RABBITMQ_NETNS:-}" ]; then
		in_ns=(ip netns exec "$RABBITMQ_NETNS")
	fi
}

init_dir() {
	local dir=$1
	mkdir -p "$dir/mnesia" "$dir/log" "$dir/home"
	[ -f "$dir/instance.env" ] && return 0
	local amqp=${RABBITMQ_AMQP_PORT:-$(free_port)}
	local dist=${RABBITMQ_DIST_PORT:-$(free_port)}
	local epmd=${RABBITMQ_EPMD_PORT:-$(free_port)}
	local tls_port=
	if [ -n "${RABBITMQ_TLS_DIR:-}" ]; then
		local f
		for f in ca.pem server.pem server-key.pem; do
			[ -r "$RABBITMQ_TLS_DIR/$f" ] || die "RABBITMQ_TLS_DIR=$RABBITMQ_TLS_DIR holds no readable $f"
		done
		mkdir -p "$dir/tls"
		chmod 700 "$dir/tls"
		cp "$RABBITMQ_TLS_DIR/ca.pem" "$RABBITMQ_TLS_DIR/server.pem" "$RABBITMQ_TLS_DIR/server-key.pem" "$dir/tls/"
		tls_port=${RABBITMQ_TLS_PORT:-$(free_port)}
	fi
	local node ip=${RABBITMQ_BIND_IP:-127.0.0.1}
	node=${RABBITMQ_NODE_FULLNAME:-"homelab-$(basename "$dir" | tr -c 'a-zA-Z0-9_\n-' '_')-$RANDOM@localhost"}
	cat >"$dir/rabbitmq.conf" <<EOF
listeners.tcp.1 = $ip:$amqp
disk_free_limit.absolute = 50MB
vm_memory_high_watermark.relative = 0.2
log.console = false
log.file.level = warning
EOF
	if [ "$ip" = 127.0.0.1 ]; then
		echo 'loopback_users.guest = true' >>"$dir/rabbitmq.conf"
	else
		# A node in its own namespace is reached over the test's private
		# bridge, never from outside this host.
		echo 'loopback_users = none' >>"$dir/rabbitmq.conf"
	fi
	if [ -n "${RABBITMQ_COOKIE:-}" ]; then
		# Quorum queues need majorities, and pause_minority is what keeps a
		# node cut off from the others from serving stale state: it stops
		# its listeners until it sees a majority again. A short tick time
		# makes the distribution notice a partition within 8-12 s, not 45-75.
		cat >>"$dir/rabbitmq.conf" <<EOF
cluster_partition_handling = pause_minority
net_ticktime = 10
EOF
		install -m 600 /dev/null "$dir/home/.erlang.cookie"
		printf '%s' "$RABBITMQ_COOKIE" >"$dir/home/.erlang.cookie"
		chmod 400 "$dir/home/.erlang.cookie"
	fi
	if [ -n "$tls_port" ]; then
		# Mutual TLS, as the RabbitmqCluster with tls.caSecretName configures
		# it: the peer must present a certificate signed by the CA.
		cat >>"$dir/rabbitmq.conf" <<EOF
listeners.ssl.1 = $ip:$tls_port
ssl_options.cacertfile = $dir/tls/ca.pem
ssl_options.certfile = $dir/tls/server.pem
ssl_options.keyfile = $dir/tls/server-key.pem
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = true
ssl_options.versions.1 = tlsv1.3
ssl_options.versions.2 = tlsv1.2
EOF
	fi
	echo '[].' >"$dir/enabled_plugins"
	echo '[].' >"$dir/advanced.config"
	: >"$dir/rabbitmq-env.conf"
	cat >"$dir/instance.env" <<EOF
RABBITMQ_NODENAME=$node
RABBITMQ_NODE_IP_ADDRESS=$ip
RABBITMQ_NODE_PORT=$amqp
RABBITMQ_TLS_PORT=$tls_port
RABBITMQ_DIST_PORT=$dist
ERL_EPMD_PORT=$epmd
ERL_EPMD_ADDRESS=$ip
RABBITMQ_NETNS=${RABBITMQ_NETNS_NAME:-}
RABBITMQ_USE_LONGNAME=${RABBITMQ_USE_LONGNAME:-false}
RABBITMQ_IN_CLUSTER=${RABBITMQ_COOKIE:+1}
RABBITMQ_MNESIA_BASE=$dir/mnesia
RABBITMQ_LOG_BASE=$dir/log
RABBITMQ_CONFIG_FILE=$dir/rabbitmq.conf
RABBITMQ_ADVANCED_CONFIG_FILE=$dir/advanced.config
RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins
RABBITMQ_PID_FILE=$dir/rabbitmq.pid
RABBITMQ_CONF_ENV_FILE=$dir/rabbitmq-env.conf
HOME=$dir/home
RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {${ip//./,}}"
EOF
}

url() {
	load_env "$1"
	echo "amqp://guest:guest@$RABBITMQ_NODE_IP_ADDRESS:$RABBITMQ_NODE_PORT/"
	if [ -n "${RABBITMQ_TLS_PORT:-}" ]; then
		echo "amqps://guest:guest@$RABBITMQ_NODE_IP_ADDRESS:$RABBITMQ_TLS_PORT/"
	fi
}

tls_url() {
	load_env "$1"
	[ -n "${RABBITMQ_TLS_PORT:-}" ] || die "the broker in $1 was started without RABBITMQ_TLS_DIR"
	echo "amqps://guest:guest@$RABBITMQ_NODE_IP_ADDRESS:$RABBITMQ_TLS_PORT/"
}

ctl() { "${in_ns[@]}" "$RABBIT_BIN/rabbitmqctl" -q -n "$RABBITMQ_NODENAME" "$@"; }
upgrade() { "${in_ns[@]}" "$RABBIT_BIN/rabbitmq-upgrade" -q -n "$RABBITMQ_NODENAME" "$@"; }

status() {
	load_env "$1"
	ctl status >/dev/null 2>&1
}

# watch_owner stops the broker once the process named by RABBITMQ_OWNER_PID
# is gone, so a test binary that crashes or is killed leaves nothing behind.
# It exits by itself when the broker is stopped normally.
watch_owner() {
	local dir=$1 owner=${RABBITMQ_OWNER_PID:-}
	# A cluster's nodes are watched by the cluster's watchdog.
	[ -n "$owner" ] && [ -z "${RABBITMQ_IN_CLUSTER:-}" ] || return 0
	# shellcheck disable=SC2016 # the inner script expands its own arguments
	setsid bash -c '
		while kill -0 "$1" 2>/dev/null; do
			[ -f "$3/server.pid" ] || exit 0
			sleep 1
		done
		[ -f "$3/server.pid" ] && exec bash "$2" stop "$3"
	' watchdog "$owner" "$(realpath "$0")" "$dir" >/dev/null 2>&1 </dev/null &
}

start() {
	local dir
	dir=$(mkdir -p "$1" && cd "$1" && pwd)
	install
	init_dir "$dir"
	load_env "$dir"
	if ctl status >/dev/null 2>&1; then
		url "$dir"
		return 0
	fi
	# Our own epmd on our own port: it is ours to stop, and a system epmd on
	# 4369 (or another project's) is never touched. The nodes of a loopback
	# cluster share one.
	if ! "${in_ns[@]}" epmd -port "$ERL_EPMD_PORT" -names >/dev/null 2>&1; then
		"${in_ns[@]}" epmd -port "$ERL_EPMD_PORT" -address "$ERL_EPMD_ADDRESS" -daemon
	fi
	# Started from its state directory: crash dumps (erl_crash.dump,
	# MnesiaCore.*) land there, never in the caller's working tree.
	(cd "$dir" && exec "${in_ns[@]}" setsid "$RABBIT_BIN/rabbitmq-server" >>"$dir/log/server.out" 2>&1 </dev/null) &
	echo $! >"$dir/server.pid"
	watch_owner "$dir"
	# await_startup gives up at once while the node is not yet reachable, so
	# it is retried until the deadline.
	local deadline=$((SECONDS + START_TIMEOUT)) ready=
	while [ $SECONDS -lt $deadline ]; do
		if ctl await_startup --timeout 10 >/dev/null 2>&1; then
			ready=1
			break
		fi
		kill -0 "$(cat "$dir/server.pid")" 2>/dev/null || break
		sleep 0.5
	done
	if [ -z "$ready" ]; then
		echo "rabbitmq.sh: broker in $dir did not start within ${START_TIMEOUT}s; last log lines:" >&2
		tail -n 30 "$dir/log/server.out" "$dir"/log/*.log 2>/dev/null >&2 || true
		stop "$dir" || true
		exit 1
	fi
	url "$dir"
}

stop() {
	local dir=$1
	[ -f "$dir/instance.env" ] || return 0
	load_env "$dir"
	# A node paused by a partition (pause_minority) can leave
	# `rabbitmqctl stop` waiting for ever: bounded, the process group is
	# killed below.
	timeout 60 "${in_ns[@]}" "$RABBIT_BIN/rabbitmqctl" -q -n "$RABBITMQ_NODENAME" stop >/dev/null 2>&1 || true
	# The server script's process group holds beam, erl_child_setup and
	# inet_gethost: make sure none outlives the broker.
	if [ -f "$dir/server.pid" ]; then
		local pid
		pid=$(cat "$dir/server.pid")
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -TERM -- "-$pid" 2>/dev/null || true
		sleep 0.2
		kill -KILL -- "-$pid" 2>/dev/null || true
		rm -f "$dir/server.pid"
	fi
	# epmd goes with the last node registered on it.
	if ! "${in_ns[@]}" epmd -port "$ERL_EPMD_PORT" -names 2>/dev/null | grep -q '^name '; then
		"${in_ns[@]}" epmd -port "$ERL_EPMD_PORT" -kill >/dev/null 2>&1 || true
	fi
}

# kill_node kills the node's whole process group with SIGKILL: no goodbye
# to its peers or clients, as when a machine dies.
kill_node() {
	local dir=$1
	load_env "$dir"
	[ -f "$dir/server.pid" ] || die "no node runs in $dir"
	kill -KILL -- "-$(cat "$dir/server.pid")" 2>/dev/null || true
	rm -f "$dir/server.pid"
}

# --- clusters ---

load_cluster() {
	[ -f "$1/cluster.env" ] || die "$1 holds no cluster (run cluster-start first)"
	# shellcheck source=/dev/null
	. "$1/cluster.env"
	bridge=hlrb-$CLUSTER_ID
}

node_ns() { echo "hlrmq-$CLUSTER_ID-$1"; }
node_veth() { echo "hlv-$CLUSTER_ID-$1"; }

# free_subnet prints the first three octets of a 10.x.y.0/24 that no
# interface or route of this host uses.
free_subnet() {
	local net _
	for _ in $(seq 1 100); do
		net=10.$((200 + RANDOM % 50)).$((RANDOM % 256))
		if ! ip -o -4 addr show | grep -q " $net\." && ! ip -4 route show | grep -q "^$net\."; then
			echo "$net"
			return 0
		fi
	done
	die "no free 10.x.y.0/24 found"
}

init_cluster() {
	local dir=$1 n=$2
	mkdir -p "$dir"
	[ -f "$dir/cluster.env" ] && return 0
	local cookie id subnet='' epmd=''
	cookie=$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32)
	id=$(head -c 48 /dev/urandom | base64 | tr -dc 'a-z0-9' | head -c 5)
	if [ "${RABBITMQ_NETNS:-}" = 1 ]; then
		[ "$(id -u)" = 0 ] || die "RABBITMQ_NETNS=1 needs root (ip netns)"
		subnet=$(free_subnet)
	else
		epmd=$(free_port)
	fi
	cat >"$dir/cluster.env" <<EOF
CLUSTER_SIZE=$n
CLUSTER_ID=$id
CLUSTER_COOKIE=$cookie
CLUSTER_SUBNET=$subnet
CLUSTER_EPMD_PORT=$epmd
EOF
}

# net_up creates the bridge, and for each node a namespace joined to it by
# a veth pair: node I is $CLUSTER_SUBNET.I, the host $CLUSTER_SUBNET.254.
net_up() {
	local i ns veth
	if ! ip link show "$bridge" >/dev/null 2>&1; then
		ip link add "$bridge" type bridge
		ip addr add "$CLUSTER_SUBNET.254/24" dev "$bridge"
	fi
	ip link set "$bridge" up
	for i in $(seq 1 "$CLUSTER_SIZE"); do
		ns=$(node_ns "$i") veth=$(node_veth "$i")
		if ! ip netns exec "$ns" true 2>/dev/null; then
			ip netns add "$ns"
			ip link add "$veth" type veth peer name "hlp-$CLUSTER_ID-$i"
			ip link set "hlp-$CLUSTER_ID-$i" netns "$ns"
			ip -n "$ns" link set "hlp-$CLUSTER_ID-$i" name eth0
			ip -n "$ns" addr add "$CLUSTER_SUBNET.$i/24" dev eth0
			ip -n "$ns" link set eth0 up
			ip -n "$ns" link set lo up
			ip link set "$veth" master "$bridge"
		fi
		ip link set "$veth" up
	done
}

net_down() {
	local i
	for i in $(seq 1 "$CLUSTER_SIZE"); do
		ip netns del "$(node_ns "$i")" 2>/dev/null || true
	done
	ip link del "$bridge" 2>/dev/null || true
}

# init_node writes node I's settings on the cluster's first start.
init_node() {
	local dir=$1 i=$2
	(
		export RABBITMQ_COOKIE=$CLUSTER_COOKIE
		if [ -n "$CLUSTER_SUBNET" ]; then
			RABBITMQ_NETNS_NAME=$(node_ns "$i")
			export RABBITMQ_NETNS_NAME RABBITMQ_BIND_IP=$CLUSTER_SUBNET.$i RABBITMQ_NODE_FULLNAME=rabbit@$CLUSTER_SUBNET.$i \
				RABBITMQ_USE_LONGNAME=true \
				RABBITMQ_AMQP_PORT=5672 RABBITMQ_DIST_PORT=25672 RABBITMQ_EPMD_PORT=4369
		else
			export RABBITMQ_EPMD_PORT=$CLUSTER_EPMD_PORT
		fi
		init_dir "$dir/node-$i"
	)
}

# watch_cluster stops the cluster once the process named by
# RABBITMQ_OWNER_PID is gone.
watch_cluster() {
	local dir=$1 owner=${RABBITMQ_OWNER_PID:-}
	[ -n "$owner" ] || return 0
	# shellcheck disable=SC2016 # the inner script expands its own arguments
	setsid bash -c '
		while kill -0 "$1" 2>/dev/null; do
			[ -f "$3/cluster.running" ] || exit 0
			sleep 1
		done
		[ -f "$3/cluster.running" ] && exec bash "$2" cluster-stop "$3"
	' watchdog "$owner" "$(realpath "$0")" "$dir" >/dev/null 2>&1 </dev/null &
}

cluster_start() {
	local dir n=$2 i first pids=() failed=
	dir=$(mkdir -p "$1" && cd "$1" && pwd)
	[[ $n =~ ^[1-9]$ ]] || die "cluster size must be 1 to 9, not $n"
	install
	init_cluster "$dir" "$n"
	load_cluster "$dir"
	[ "$n" = "$CLUSTER_SIZE" ] || die "$dir holds a $CLUSTER_SIZE-node cluster, not $n"
	if [ -n "$CLUSTER_SUBNET" ]; then
		net_up
	fi
	touch "$dir/cluster.running"
	watch_cluster "$dir"
	for i in $(seq 1 "$n"); do
		init_node "$dir" "$i"
	done
	# Together: a restarted node waits for its peers' tables.
	for i in $(seq 1 "$n"); do
		start "$dir/node-$i" >/dev/null &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i" || failed=1
	done
	[ -z "$failed" ] || die "a node of the cluster in $dir did not start"
	first=$(load_env "$dir/node-1" && echo "$RABBITMQ_NODENAME")
	pids=()
	for i in $(seq 2 "$n"); do
		join "$dir/node-$i" "$first" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i" || failed=1
	done
	[ -z "$failed" ] || die "a node did not join $first; see $dir/node-*/log/join.out"
	cluster_urls "$dir"
}

# join makes the node in DIR a member of FIRST's cluster, unless it is one.
join() {
	local dir=$1 first=$2
	load_env "$dir"
	ctl cluster_status --formatter json 2>/dev/null | grep -qF "\"$first\"" && return 0
	{
		ctl stop_app && ctl reset && ctl join_cluster "$first" && ctl start_app
	} >>"$dir/log/join.out" 2>&1
}

cluster_stop() {
	local dir=$1 i pids=()
	[ -f "$dir/cluster.env" ] || return 0
	load_cluster "$dir"
	for i in $(seq 1 "$CLUSTER_SIZE"); do
		[ -f "$dir/node-$i/instance.env" ] || continue
		(stop "$dir/node-$i") &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i" || true
	done
	if [ -n "$CLUSTER_SUBNET" ]; then
		net_down
	fi
	rm -f "$dir/cluster.running"
}

cluster_urls() {
	local i
	load_cluster "$1"
	for i in $(seq 1 "$CLUSTER_SIZE"); do
		(url "$1/node-$i" | head -n 1)
	done
}

# link sets node I's link to the bridge up or down.
link() {
	local dir=$1 i=$2 state=$3
	load_cluster "$dir"
	[ -n "$CLUSTER_SUBNET" ] || die "the cluster in $dir was not started with RABBITMQ_NETNS=1; it cannot be partitioned"
	if ! [[ $i =~ ^[1-9]$ ]] || [ "$i" -gt "$CLUSTER_SIZE" ]; then
		die "no node $i in $dir"
	fi
	ip link set "$(node_veth "$i")" "$state"
}

cmd=${1:-}
case "$cmd" in
install) install ;;
start | stop | status | url)
	[ $# -eq 2 ] || die "usage: $0 $cmd DIR"
	"$cmd" "$2"
	;;
kill)
	[ $# -eq 2 ] || die "usage: $0 kill DIR"
	kill_node "$2"
	;;
name)
	[ $# -eq 2 ] || die "usage: $0 name DIR"
	load_env "$2"
	echo "$RABBITMQ_NODENAME"
	;;
ctl | upgrade)
	[ $# -ge 3 ] || die "usage: $0 $cmd DIR ARGS..."
	load_env "$2"
	shift 2
	"$cmd" "$@"
	;;
cluster-start)
	[ $# -eq 3 ] || die "usage: $0 cluster-start DIR N"
	cluster_start "$2" "$3"
	;;
cluster-stop | cluster-urls)
	[ $# -eq 2 ] || die "usage: $0 $cmd DIR"
	"${cmd/-/_}" "$2"
	;;
partition | heal)
	[ $# -eq 3 ] || die "usage: $0 $cmd DIR I"
	if [ "$cmd" = partition ]; then link "$2" "$3" down; else link "$2" "$3" up; fi
	;;
tls-url)
	[ $# -eq 2 ] || die "usage: $0 $cmd DIR"
	tls_url "$2"
	;;
*) die "usage: $0 install | start DIR | stop DIR | kill DIR | status DIR | name DIR | ctl DIR ARGS... | upgrade DIR ARGS... | url DIR | tls-url DIR | cluster-start DIR N | cluster-stop DIR | cluster-urls DIR | partition DIR I | heal DIR I" ;;
esac
