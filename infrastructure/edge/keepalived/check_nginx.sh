#!/bin/bash
# Keepalived track script, run as the unprivileged script_user:
#   check_nginx.sh HOST PORT
# Healthy when nginx's stream health listener on HOST:PORT answers "ok".
# A TCP probe works as any user, where kill -0 on root's nginx fails with
# EPERM, and it proves that the workers accept connections, not merely that
# a master process exists. keepalived kills the script after its timeout; the
# read has its own so that a stuck worker fails the check too.
set -u
host=${1:?usage: check_nginx.sh HOST PORT}
port=${2:?usage: check_nginx.sh HOST PORT}
{ exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null || exit 1
IFS= read -r -t 1 answer <&3 || exit 1
[ "$answer" = ok ]
