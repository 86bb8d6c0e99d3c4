#!/bin/sh
# Keepalived track script: healthy when the nginx master process is alive and
# the stream listeners accept on 443 (apps) and 6443 (Kubernetes API).
set -eu
pid=$(cat /run/nginx.pid 2>/dev/null) || exit 1
kill -0 "$pid" 2>/dev/null || exit 1
for port in 443 6443; do
    ss -Hltn "sport = :$port" | grep -q . || exit 1
done
exit 0
