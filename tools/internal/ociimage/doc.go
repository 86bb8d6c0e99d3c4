// Package ociimage builds reproducible OCI images of static Go programs
// without a container runtime and without a base image.
//
// An image holds one layer: the program at /usr/local/bin/<name>, an
// /etc/passwd and /etc/group that declare the nonroot user 65532, its home
// directory, /tmp, and optionally a CA bundle. The layer is a tar archive in
// canonical form (entries sorted, fixed owner, mode and time) compressed with
// the standard library's gzip, and the image config has a fixed creation
// time. Given the same program bytes, every build yields the same digests;
// the program bytes are reproducible when it is compiled with Compile.
package ociimage
