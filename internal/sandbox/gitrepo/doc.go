// Package gitrepo writes real git repositories for the sandbox world
// (`evidence-auditd demo`) and for tests: an AICR-style repository with
// recipe overlays, CODEOWNERS, the evidence allowlist and pointers merged
// over time through pull-request merge commits (SPEC §2.1, §2.3).
//
// Two layers:
//
//   - Builder is a small, general git writer on go-git plumbing: Init,
//     Commit, Branch, Merge, Close. It encodes blobs, trees and commits
//     straight into the object store and keeps each branch's tree in
//     memory as a copy-on-write structure, so a commit costs what it
//     changes rather than the size of the tree, and no work tree or index
//     is touched until Close checks out the default branch.
//   - Generate builds a whole repository from a declarative Scenario;
//     PointerYAML, PerSourcePath, FlatPath and OverlayYAML render the files
//     it is made of.
//
// Repositories are non-bare by default (DIR/.git plus a checked-out work
// tree on branch main); Bare makes DIR the git directory. Either form opens
// with go-git's PlainOpen. The package never runs the git binary and never
// reads the clock: every commit time comes from the caller.
//
// gitrepo produces input for the auditor, so it must not import the
// packages that read that input (internal/evidence, internal/audit, ...):
// the signer slug of SPEC §2.1 is deliberately duplicated here.
package gitrepo
