// Package workflowcheck checks the repository's GitHub Actions files before
// they reach GitHub.
//
// It runs actionlint in-process on every workflow under .github/workflows
// and checks that every action a workflow or composite action uses is pinned
// to a full 40-character commit SHA followed by a comment naming the release
// ("uses: owner/repo@<sha> # v1.2.3"), so that a moved tag cannot change what
// runs and Renovate can still propose updates. Local actions ("./...") are
// exempt, and Docker actions must be pinned by an image digest.
//
// The package's test runs both checks on this repository, so `go test ./...`
// (and with it `make test`) fails with file:line:column messages when a
// workflow is wrong.
package workflowcheck
