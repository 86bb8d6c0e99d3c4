// Package hostprov holds the tests of the hosts' provisioning files in
// infrastructure/edge/hosts: the cloud-init user-data of the edge hosts
// and the kubeadm nodes, and the nftables rulesets they install.
//
// cloud-init's own schema check validates the user-data; each user-data
// must carry its ruleset byte for byte and the hardening the hosts need;
// the rulesets' addresses must be the cluster's (cluster-vars); `nft -c`
// checks them; and each ruleset is loaded into a network namespace the
// test creates, where an allowed port answers and a closed one does not.
package hostprov
