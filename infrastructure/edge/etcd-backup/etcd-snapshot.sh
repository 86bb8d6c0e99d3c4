#!/usr/bin/env bash
# etcd-snapshot: takes a snapshot of the local etcd member of a kubeadm
# control-plane node with kubeadm's certificates, checks it, keeps it in
# BACKUP_DIR pruned to KEEP_DAILY days + KEEP_WEEKLY ISO weeks, and uploads
# it to the S3-compatible bucket (etcd/daily/<host>/ and, on Sundays,
# etcd/weekly/<host>/, where the bucket's lifecycle rules apply the same
# retention). Installed as
# /usr/local/sbin/etcd-snapshot, run by etcd-snapshot.timer
# (docs/runbook.md, "Backups and restore").
#
# Settings (environment, from /etc/etcd-snapshot/etcd-snapshot.env):
#   ETCD_ENDPOINT      default https://127.0.0.1:2379
#   ETCD_CACERT, ETCD_CERT, ETCD_KEY
#                      default kubeadm's /etc/kubernetes/pki/etcd/ca.crt and
#                      healthcheck-client.{crt,key}
#   BACKUP_DIR         default /var/backups/etcd
#   KEEP_DAILY, KEEP_WEEKLY   default 7 and 4
#   TEXTFILE_DIR       default /var/lib/prometheus/node-exporter, node_exporter's
#                      textfile collector directory (Debian's package): a
#                      successful run writes etcd_snapshot.prom there, which
#                      the EtcdSnapshotStale alert reads; "" writes none
#   S3_ENDPOINT, S3_BUCKET, S3_REGION, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY
#                      the bucket (from s3.env, decrypted from SOPS at
#                      provisioning); without S3_ENDPOINT nothing is uploaded
#                      and the script fails, unless S3_DISABLED=1.
set -euo pipefail
umask 077

endpoint=${ETCD_ENDPOINT:-https://127.0.0.1:2379}
cacert=${ETCD_CACERT:-/etc/kubernetes/pki/etcd/ca.crt}
cert=${ETCD_CERT:-/etc/kubernetes/pki/etcd/healthcheck-client.crt}
key=${ETCD_KEY:-/etc/kubernetes/pki/etcd/healthcheck-client.key}
dir=${BACKUP_DIR:-/var/backups/etcd}
keep_daily=${KEEP_DAILY:-7}
keep_weekly=${KEEP_WEEKLY:-4}
now=${SNAPSHOT_TIME:-$(date -u +%s)}

textfile_dir=${TEXTFILE_DIR-/var/lib/prometheus/node-exporter}

log() { echo "etcd-snapshot: $*" >&2; }

# record_success writes the snapshot's time and size for node_exporter's
# textfile collector. Only a run that got this far records anything, so a
# failed run leaves the last success in place and the alert sees it age.
# The file is written beside its final name and renamed, so the collector
# never reads half of it; node_exporter runs as its own user, so it is
# world-readable (it holds no secret).
record_success() {
	[[ -n "${textfile_dir}" ]] || return 0
	local tmp="${textfile_dir}/.etcd_snapshot.prom.$$"
	cat >"${tmp}" <<-METRICS
		# HELP etcd_snapshot_last_success_timestamp_seconds When the last etcd snapshot that was saved, checked and uploaded was taken (etcd-snapshot.sh).
		# TYPE etcd_snapshot_last_success_timestamp_seconds gauge
		etcd_snapshot_last_success_timestamp_seconds ${now}
		# HELP etcd_snapshot_last_success_size_bytes Size of that snapshot, gzipped.
		# TYPE etcd_snapshot_last_success_size_bytes gauge
		etcd_snapshot_last_success_size_bytes $(stat -c %s "${dir}/${stamp}.db.gz")
	METRICS
	chmod 0644 "${tmp}"
	mv "${tmp}" "${textfile_dir}/etcd_snapshot.prom"
	log "recorded the success in ${textfile_dir}/etcd_snapshot.prom"
}

stamp=$(date -u -d "@${now}" +%Y%m%dT%H%M%SZ)
host=$(hostname -s)
mkdir -p "${dir}"
part="${dir}/.${stamp}.db.part"
trap 'rm -f "${part}"' EXIT

etcdctl --endpoints="${endpoint}" --cacert="${cacert}" --cert="${cert}" --key="${key}" \
	--command-timeout=120s snapshot save "${part}" >&2
# A snapshot that etcd cannot read back is worth nothing: check its hash and
# revision before it replaces anything.
if command -v etcdutl >/dev/null; then
	status=$(etcdutl snapshot status "${part}" --write-out=simple)
else
	status=$(ETCDCTL_API=3 etcdctl snapshot status "${part}" --write-out=simple 2>/dev/null)
fi
gzip -c "${part}" >"${part}.gz"
mv "${part}.gz" "${dir}/${stamp}.db.gz"
log "saved ${dir}/${stamp}.db.gz (hash, revision, keys, size: ${status})"

# Retention: the newest snapshot of each of the last KEEP_DAILY days and of
# each of the last KEEP_WEEKLY ISO weeks.
declare -A days=() weeks=()
while read -r file; do
	name=$(basename "${file}" .db.gz)
	t=$(date -u -d "${name:0:4}-${name:4:2}-${name:6:2}T${name:9:2}:${name:11:2}:${name:13:2}Z" +%s) || continue
	day=$(date -u -d "@${t}" +%F)
	week=$(date -u -d "@${t}" +%G-%V)
	keep=0
	if [[ -z "${days[${day}]:-}" && ${#days[@]} -lt ${keep_daily} ]]; then
		days[${day}]=1
		keep=1
	fi
	if [[ -z "${weeks[${week}]:-}" && ${#weeks[@]} -lt ${keep_weekly} ]]; then
		weeks[${week}]=1
		keep=1
	fi
	if [[ ${keep} -eq 0 ]]; then
		rm -f "${file}"
		log "pruned ${file}"
	fi
done < <(find "${dir}" -maxdepth 1 -name '[0-9]*T[0-9]*Z.db.gz' | sort -r)

if [[ "${S3_DISABLED:-0}" == 1 ]]; then
	log "upload disabled (S3_DISABLED=1)"
	record_success
	exit 0
fi
: "${S3_ENDPOINT:?S3_ENDPOINT is not set (or set S3_DISABLED=1)}" "${S3_BUCKET:?}" "${S3_ACCESS_KEY_ID:?}" "${S3_SECRET_ACCESS_KEY:?}"
region=${S3_REGION:-us-east-1}
sum=$(sha256sum "${dir}/${stamp}.db.gz" | cut -d' ' -f1)
keys=("etcd/daily/${host}/${stamp}.db.gz")
if [[ $(date -u -d "@${now}" +%u) == 7 ]]; then
	keys+=("etcd/weekly/${host}/${stamp}.db.gz")
fi
for k in "${keys[@]}"; do
	# The credentials go to curl on its standard input, never on its
	# command line (visible to every user in ps). The signed SHA-256 makes
	# the bucket refuse a body altered on the way.
	printf 'user = "%s:%s"\n' "${S3_ACCESS_KEY_ID}" "${S3_SECRET_ACCESS_KEY}" |
		curl --config - --silent --show-error --fail-with-body --retry 3 \
			--aws-sigv4 "aws:amz:${region}:s3" \
			-H "x-amz-content-sha256: ${sum}" \
			${S3_CA_FILE:+--cacert "${S3_CA_FILE}"} \
			--upload-file "${dir}/${stamp}.db.gz" \
			"${S3_ENDPOINT%/}/${S3_BUCKET}/${k}" >/dev/null
	log "uploaded s3://${S3_BUCKET}/${k}"
done
record_success
