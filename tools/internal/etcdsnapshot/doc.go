// Package etcdsnapshot tests infrastructure/edge/etcd-backup/etcd-snapshot.sh,
// the control-plane hosts' etcd backup, against a real etcd with mutual TLS
// as kubeadm sets it up and an S3 endpoint the test serves.
package etcdsnapshot
