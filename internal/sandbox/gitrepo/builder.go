package gitrepo

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage"
)

// DefaultBranch is the branch Init points HEAD at unless WithDefaultBranch
// says otherwise.
const DefaultBranch = "main"

// Signature is a commit's author or committer. When is kept with its time
// zone (git records the offset).
type Signature struct {
	Name  string
	Email string
	When  time.Time
}

// Change is one commit's content: the files to write (path → bytes, paths
// repository-relative and slash-separated) and the paths to delete (a
// directory path removes the whole subtree). Deletes apply before writes.
// An empty Change makes an empty commit, as `git commit --allow-empty`.
//
// A zero Author.Name/Email takes the builder's identity (WithIdentity); a
// zero Author.When takes Committer.When. A zero Committer is the Author.
// At least one of the two times must be set: the builder never reads the
// clock.
type Change struct {
	Message   string
	Author    Signature
	Committer Signature
	Write     map[string][]byte
	Delete    []string
}

// ErrUnknownBranch is returned when an operation names a branch that does
// not exist in the builder.
var ErrUnknownBranch = errors.New("unknown branch")

// Option configures Init.
type Option func(*options) error

type options struct {
	bare          bool
	defaultBranch string
	identity      Signature
	merger        Signature
}

// Bare makes Init create a bare repository (DIR is the git directory; no
// work tree is checked out). go-git's PlainOpen opens both forms.
func Bare() Option {
	return func(o *options) error { o.bare = true; return nil }
}

// WithDefaultBranch names the branch HEAD points at (default "main").
func WithDefaultBranch(name string) Option {
	return func(o *options) error {
		if !plumbing.NewBranchReferenceName(name).IsBranch() || name == "" {
			return fmt.Errorf("default branch %q: invalid name", name)
		}
		o.defaultBranch = name
		return nil
	}
}

// WithIdentity sets the name and e-mail used for commits whose Change
// leaves Author empty (default "AICR Contributor <contributor@aicr.invalid>").
// When is ignored.
func WithIdentity(name, email string) Option {
	return func(o *options) error {
		if name == "" || email == "" {
			return errors.New("identity: name and email required")
		}
		o.identity = Signature{Name: name, Email: email}
		return nil
	}
}

// WithMerger sets the author and committer of merge commits (default
// "GitHub <noreply@github.com>", as on a merged pull request). When is
// ignored: Merge takes the time.
func WithMerger(name, email string) Option {
	return func(o *options) error {
		if name == "" || email == "" {
			return errors.New("merger: name and email required")
		}
		o.merger = Signature{Name: name, Email: email}
		return nil
	}
}

// branch is the builder's in-memory view of one branch.
type branch struct {
	head plumbing.Hash
	tree *node
	// base is the tree Merge diffs this branch against when it is merged
	// somewhere: the tree it was forked from, then its tree at its last
	// merge.
	base *node
}

// Builder encodes blobs, trees and commits itself (plumbing: no work tree,
// no index while building) and keeps every branch's tree in memory, so a
// commit costs what it changes, not the size of the tree. Objects are
// spooled as one packfile, which Close hands to the object store together
// with the branch references and, for a non-bare repository, the
// checked-out work tree and index. A Builder must be closed, also after an
// error, to remove its spool file. It is not safe for concurrent use.
type Builder struct {
	repo     *git.Repository
	store    storage.Storer
	dir      string
	pack     *packWriter
	opts     options
	branches map[string]*branch
	written  map[plumbing.Hash]struct{}
	deleted  map[string]struct{}
	closed   bool
}

// Init creates a new repository at dir (which must not already hold one)
// and returns a builder for it. Without Bare the repository is non-bare:
// dir/.git plus a work tree that Close checks out at the default branch.
func Init(dir string, opts ...Option) (*Builder, error) {
	o := options{
		defaultBranch: DefaultBranch,
		identity:      Signature{Name: "AICR Contributor", Email: "contributor@aicr.invalid"},
		merger:        Signature{Name: "GitHub", Email: "noreply@github.com"},
	}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("init %s: %w", dir, err)
		}
	}
	repo, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		Bare: o.bare,
		InitOptions: git.InitOptions{
			DefaultBranch: plumbing.NewBranchReferenceName(o.defaultBranch),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("init %s: %w", dir, err)
	}
	gitDir := dir
	if !o.bare {
		gitDir = filepath.Join(dir, git.GitDirName)
	}
	pack, err := newPackWriter(gitDir)
	if err != nil {
		return nil, fmt.Errorf("init %s: %w", dir, err)
	}
	return &Builder{
		repo:     repo,
		store:    repo.Storer,
		dir:      dir,
		pack:     pack,
		opts:     o,
		branches: map[string]*branch{},
		written:  map[plumbing.Hash]struct{}{},
		deleted:  map[string]struct{}{},
	}, nil
}

// Repository returns the go-git repository being built. Before Close it
// holds neither the new objects nor the branch references.
func (b *Builder) Repository() *git.Repository { return b.repo }

// Head returns the commit id at the tip of branch, or "" when the branch
// does not exist.
func (b *Builder) Head(name string) string {
	br, ok := b.branches[name]
	if !ok {
		return ""
	}
	return br.head.String()
}

// Branch creates branch name at the tip of branch from.
func (b *Builder) Branch(name, from string) error {
	if err := b.usable(); err != nil {
		return err
	}
	src, ok := b.branches[from]
	if !ok {
		return fmt.Errorf("branch %s from %s: %w", name, from, ErrUnknownBranch)
	}
	if _, exists := b.branches[name]; exists {
		return fmt.Errorf("branch %s: already exists", name)
	}
	if err := checkBranchName(name); err != nil {
		return err
	}
	b.branches[name] = &branch{head: src.head, tree: src.tree, base: src.tree}
	delete(b.deleted, name)
	return nil
}

// DeleteBranch forgets branch name (as GitHub's "delete branch on merge");
// its commits stay reachable through any merge that took them.
func (b *Builder) DeleteBranch(name string) error {
	if err := b.usable(); err != nil {
		return err
	}
	if _, ok := b.branches[name]; !ok {
		return fmt.Errorf("delete branch %s: %w", name, ErrUnknownBranch)
	}
	if name == b.opts.defaultBranch {
		return fmt.Errorf("delete branch %s: is the default branch", name)
	}
	delete(b.branches, name)
	b.deleted[name] = struct{}{}
	return nil
}

// Commit records c on branch and returns the new commit id. On a branch
// that does not exist yet the commit is a root commit (an unborn branch,
// as after `git init` or `git checkout --orphan`).
func (b *Builder) Commit(branchName string, c Change) (string, error) {
	if err := b.usable(); err != nil {
		return "", err
	}
	br, ok := b.branches[branchName]
	if !ok {
		if err := checkBranchName(branchName); err != nil {
			return "", err
		}
		br = &branch{tree: emptyDir()}
		br.base = br.tree
	}
	author, committer, err := b.signatures(c)
	if err != nil {
		return "", fmt.Errorf("commit on %s: %w", branchName, err)
	}
	tree := br.tree
	for _, p := range c.Delete {
		parts, err := splitPath(p)
		if err != nil {
			return "", fmt.Errorf("commit on %s: delete: %w", branchName, err)
		}
		var ok bool
		if tree, ok = without(tree, parts); !ok {
			return "", fmt.Errorf("commit on %s: delete %s: not in tree", branchName, p)
		}
	}
	// Sorted so that identical inputs give identical object write order.
	paths := make([]string, 0, len(c.Write))
	for p := range c.Write {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		parts, err := splitPath(p)
		if err != nil {
			return "", fmt.Errorf("commit on %s: write: %w", branchName, err)
		}
		blob, err := b.putBlob(c.Write[p])
		if err != nil {
			return "", fmt.Errorf("commit on %s: write %s: %w", branchName, p, err)
		}
		tree = withFile(tree, parts, blob)
	}
	var parents []plumbing.Hash
	if !br.head.IsZero() {
		parents = []plumbing.Hash{br.head}
	}
	h, err := b.putCommit(tree, parents, author, committer, c.Message)
	if err != nil {
		return "", fmt.Errorf("commit on %s: %w", branchName, err)
	}
	br.head, br.tree = h, tree
	b.branches[branchName] = br
	delete(b.deleted, branchName)
	return h.String(), nil
}

// Merge records a two-parent merge commit on into (first parent: into's
// tip, second: from's tip) at time at, authored and committed by the
// merger identity (WithMerger). Its tree is into's tree with from's changes
// applied on top, where from's changes are its edits since it was forked
// (Branch) or last merged. Where both sides changed a path, from wins: the
// builder does not detect conflicts. Merging a branch into itself, or one
// with no commits of its own, is allowed and still yields a merge commit
// (as `git merge --no-ff`).
func (b *Builder) Merge(into, from, msg string, at time.Time) (string, error) {
	if err := b.usable(); err != nil {
		return "", err
	}
	dst, ok := b.branches[into]
	if !ok {
		return "", fmt.Errorf("merge %s into %s: %w", from, into, ErrUnknownBranch)
	}
	src, ok := b.branches[from]
	if !ok {
		return "", fmt.Errorf("merge %s into %s: %w", from, into, ErrUnknownBranch)
	}
	if at.IsZero() {
		return "", fmt.Errorf("merge %s into %s: time required", from, into)
	}
	tree := src.tree
	if dst.tree != src.base {
		tree = dst.tree
		for _, ch := range diffTrees(src.base, src.tree, nil, nil) {
			if ch.blob.IsZero() {
				tree, _ = without(tree, ch.parts)
				continue
			}
			tree = withFile(tree, ch.parts, ch.blob)
		}
	}
	// else into has not moved since from forked: from's tree is the result
	// (and is already written).
	sig := b.opts.merger
	sig.When = at
	h, err := b.putCommit(tree, []plumbing.Hash{dst.head, src.head}, object.Signature(sig), object.Signature(sig), msg)
	if err != nil {
		return "", fmt.Errorf("merge %s into %s: %w", from, into, err)
	}
	dst.head, dst.tree = h, tree
	src.base = src.tree
	return h.String(), nil
}

// Close writes the objects (one packfile), the branch references and, for
// a non-bare repository whose default branch has commits, checks that
// branch out (work tree and index). The repository is complete only after
// Close; until then go-git sees neither objects nor references. Close is
// idempotent; operations after it fail.
func (b *Builder) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	if err := b.pack.finish(); err != nil {
		return fmt.Errorf("close: write pack: %w", err)
	}
	if s, ok := b.store.(interface{ Reindex() }); ok {
		s.Reindex() // make the new pack visible to the open repository
	}
	for name := range b.deleted {
		err := b.store.RemoveReference(plumbing.NewBranchReferenceName(name))
		if err != nil {
			return fmt.Errorf("close: remove branch %s: %w", name, err)
		}
	}
	names := make([]string, 0, len(b.branches))
	for name := range b.branches {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		ref := plumbing.NewHashReference(plumbing.NewBranchReferenceName(name), b.branches[name].head)
		if err := b.store.SetReference(ref); err != nil {
			return fmt.Errorf("close: write branch %s: %w", name, err)
		}
	}
	main, ok := b.branches[b.opts.defaultBranch]
	if b.opts.bare || !ok {
		return nil
	}
	if err := b.checkout(b.dir, main.tree); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}

func (b *Builder) usable() error {
	if b.closed {
		return errors.New("gitrepo: builder is closed")
	}
	return nil
}

func checkBranchName(name string) error {
	if name == "" {
		return errors.New("branch name required")
	}
	if _, err := splitPath(name); err != nil {
		return fmt.Errorf("branch %q: invalid name", name)
	}
	return nil
}

func (b *Builder) signatures(c Change) (author, committer object.Signature, err error) {
	a, cm := c.Author, c.Committer
	if a.Name == "" && a.Email == "" {
		a.Name, a.Email = b.opts.identity.Name, b.opts.identity.Email
	}
	if cm.Name == "" && cm.Email == "" {
		cm.Name, cm.Email = a.Name, a.Email
	}
	if a.When.IsZero() {
		a.When = cm.When
	}
	if cm.When.IsZero() {
		cm.When = a.When
	}
	if a.When.IsZero() {
		return author, committer, errors.New("commit time required (Author.When or Committer.When)")
	}
	return object.Signature(a), object.Signature(cm), nil
}

func (b *Builder) putBlob(data []byte) (plumbing.Hash, error) {
	return b.put(plumbing.BlobObject, data)
}

func (b *Builder) putCommit(tree *node, parents []plumbing.Hash, author, committer object.Signature, msg string) (plumbing.Hash, error) {
	th, err := encodeTree(tree, b.put)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	c := &object.Commit{
		Author:       author,
		Committer:    committer,
		Message:      msg,
		TreeHash:     th,
		ParentHashes: parents,
	}
	obj := &plumbing.MemoryObject{}
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("encode commit: %w", err)
	}
	r, err := obj.Reader()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return b.put(plumbing.CommitObject, data)
}

// put stores an object once: objects are content-addressed, so a second
// write of the same id is skipped.
func (b *Builder) put(t plumbing.ObjectType, data []byte) (plumbing.Hash, error) {
	h := b.pack.objectID(t, data)
	if _, ok := b.written[h]; ok {
		return h, nil
	}
	if err := b.pack.add(h, t, data); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("store object %s: %w", h, err)
	}
	b.written[h] = struct{}{}
	return h, nil
}
