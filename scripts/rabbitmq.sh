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
		RABBITMQ_CONF_ENV_FILE RABBITMQ_ADVANCED_CONFIG_FILE RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS HOME
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
	local node
	node="homelab-$(basename "$dir" | tr -c 'a-zA-Z0-9_\n-' '_')-$RANDOM@localhost"
	cat >"$dir/rabbitmq.conf" <<EOF
listeners.tcp.1 = 127.0.0.1:$amqp
loopback_users.guest = true
disk_free_limit.absolute = 50MB
vm_memory_high_watermark.relative = 0.2
log.console = false
log.file.level = warning
EOF
	if [ -n "$tls_port" ]; then
		# Mutual TLS, as the RabbitmqCluster with tls.caSecretName configures
		# it: the peer must present a certificate signed by the CA.
		cat >>"$dir/rabbitmq.conf" <<EOF
listeners.ssl.1 = 127.0.0.1:$tls_port
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
RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
RABBITMQ_NODE_PORT=$amqp
RABBITMQ_TLS_PORT=$tls_port
RABBITMQ_DIST_PORT=$dist
ERL_EPMD_PORT=$epmd
ERL_EPMD_ADDRESS=127.0.0.1
RABBITMQ_MNESIA_BASE=$dir/mnesia
RABBITMQ_LOG_BASE=$dir/log
RABBITMQ_CONFIG_FILE=$dir/rabbitmq.conf
RABBITMQ_ADVANCED_CONFIG_FILE=$dir/advanced.config
RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins
RABBITMQ_PID_FILE=$dir/rabbitmq.pid
RABBITMQ_CONF_ENV_FILE=$dir/rabbitmq-env.conf
HOME=$dir/home
RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
EOF
}

url() {
	load_env "$1"
	echo "amqp://guest:guest@127.0.0.1:$RABBITMQ_NODE_PORT/"
	if [ -n "${RABBITMQ_TLS_PORT:-}" ]; then
		echo "amqps://guest:guest@127.0.0.1:$RABBITMQ_TLS_PORT/"
	fi
}

tls_url() {
	load_env "$1"
	[ -n "${RABBITMQ_TLS_PORT:-}" ] || die "the broker in $1 was started without RABBITMQ_TLS_DIR"
	echo "amqps://guest:guest@127.0.0.1:$RABBITMQ_TLS_PORT/"
}

ctl() { "$RABBIT_BIN/rabbitmqctl" -q -n "$RABBITMQ_NODENAME" "$@"; }

status() {
	load_env "$1"
	ctl status >/dev/null 2>&1
}

# watch_owner stops the broker once the process named by RABBITMQ_OWNER_PID
# is gone, so a test binary that crashes or is killed leaves nothing behind.
# It exits by itself when the broker is stopped normally.
watch_owner() {
	local dir=$1 owner=${RABBITMQ_OWNER_PID:-}
	[ -n "$owner" ] || return 0
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
	# 4369 (or another project's) is never touched.
	epmd -port "$ERL_EPMD_PORT" -address 127.0.0.1 -daemon
	# Started from its state directory: crash dumps (erl_crash.dump,
	# MnesiaCore.*) land there, never in the caller's working tree.
	(cd "$dir" && exec setsid "$RABBIT_BIN/rabbitmq-server" >>"$dir/log/server.out" 2>&1 </dev/null) &
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
	ctl stop >/dev/null 2>&1 || true
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
	epmd -port "$ERL_EPMD_PORT" -kill >/dev/null 2>&1 || true
}

cmd=${1:-}
case "$cmd" in
install) install ;;
start | stop | status | url)
	[ $# -eq 2 ] || die "usage: $0 $cmd DIR"
	"$cmd" "$2"
	;;
tls-url)
	[ $# -eq 2 ] || die "usage: $0 $cmd DIR"
	tls_url "$2"
	;;
*) die "usage: $0 install | start DIR | stop DIR | status DIR | url DIR | tls-url DIR" ;;
esac
