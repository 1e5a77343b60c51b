// Package history reads the merged history of the evidence directory from a
// git repository (SPEC §1 step 1, DESIGN "Data flow" step 1).
//
// It owns the git side of evidence-auditd: opening a local clone (bare or
// not), cloning or fetching a remote into the data directory, and walking
// the first-parent chain of the audited branch to produce every pointer
// version ever merged, as audit.PointerVersion values in an audit.WalkDelta.
// The walk compares the tree hash of the evidence directory between each
// first-parent commit and its first parent and only diffs the commits where
// it changed, descending only into subtrees whose hashes differ. It is
// incremental: given the head of the previous walk it reads only the
// commits after it, and falls back to a full walk when a force-push removed
// that commit from the first-parent chain. A long chain (a first walk) is
// read in consecutive segments side by side, each through its own object
// storage, and the versions are then recorded in merge order.
//
// history is pure Go (go-git); it never runs a git binary. Importing it
// installs go-git's in-process server as the transport for file:// and
// local-path remotes, which go-git otherwise serves by running
// git-upload-pack.
//
// history yields files; it does not parse them (that is the evidence
// package's job). It never prints. It may import internal/audit and must not
// import any other internal package.
package history
