package gitrepo

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
)

// node is one entry of an in-memory, persistent (copy-on-write) tree.
// A file node has a nil children map and its blob id in blob; a directory
// node has children and, once written, its tree id in hash. Nodes are never
// mutated after they are shared between commits: every edit copies the path
// from the root down, so unchanged subtrees keep their hash and are not
// re-encoded. That is what makes a commit cost O(depth × fan-out) instead of
// O(files).
type node struct {
	children map[string]*node
	blob     plumbing.Hash
	hash     plumbing.Hash
}

func (n *node) isDir() bool { return n.children != nil }

func emptyDir() *node { return &node{children: map[string]*node{}} }

// copyDir returns a writable shallow copy of dir (or a new directory when
// dir is nil or a file).
func copyDir(dir *node) *node {
	c := &node{children: make(map[string]*node, len(dirChildren(dir))+1)}
	for k, v := range dirChildren(dir) {
		c.children[k] = v
	}
	return c
}

func dirChildren(n *node) map[string]*node {
	if n == nil {
		return nil
	}
	return n.children
}

// splitPath validates a repository-relative, slash-separated path and
// returns its components.
func splitPath(p string) ([]string, error) {
	if p == "" || strings.HasPrefix(p, "/") || path.Clean(p) != p {
		return nil, fmt.Errorf("path %q: want a clean relative slash-separated path", p)
	}
	parts := strings.Split(p, "/")
	for _, c := range parts {
		if c == ".." || c == "." || c == ".git" || strings.IndexByte(c, 0) >= 0 {
			return nil, fmt.Errorf("path %q: component %q not allowed", p, c)
		}
	}
	return parts, nil
}

// withFile returns a copy of root with the file at parts set to blob.
// A file standing where a directory is needed (or the reverse) is replaced.
func withFile(root *node, parts []string, blob plumbing.Hash) *node {
	c := copyDir(root)
	if len(parts) == 1 {
		c.children[parts[0]] = &node{blob: blob}
		return c
	}
	child := c.children[parts[0]]
	if child != nil && !child.isDir() {
		child = nil
	}
	c.children[parts[0]] = withFile(child, parts[1:], blob)
	return c
}

// without returns a copy of root with the entry at parts (file or whole
// directory) removed, pruning directories left empty (git stores no empty
// trees). ok is false when nothing exists at parts.
func without(root *node, parts []string) (n *node, ok bool) {
	child, found := dirChildren(root)[parts[0]]
	if !found {
		return root, false
	}
	var repl *node
	if len(parts) > 1 {
		if !child.isDir() {
			return root, false
		}
		if repl, ok = without(child, parts[1:]); !ok {
			return root, false
		}
		if len(repl.children) == 0 {
			repl = nil
		}
	}
	c := copyDir(root)
	if repl == nil {
		delete(c.children, parts[0])
	} else {
		c.children[parts[0]] = repl
	}
	return c, true
}

// change is one edit found by diffTrees: blob is zero for a deletion.
type change struct {
	parts []string
	blob  plumbing.Hash
}

// diffTrees lists the file-level edits that turn base into head. Subtrees
// shared by pointer or with equal written hashes are skipped, so the cost
// follows the size of the change, not of the tree.
func diffTrees(base, head *node, prefix []string, out []change) []change {
	if base == head {
		return out
	}
	if base != nil && head != nil && base.isDir() && head.isDir() &&
		!base.hash.IsZero() && base.hash == head.hash {
		return out
	}
	bc, hc := dirChildren(base), dirChildren(head)
	for name, h := range hc {
		p := append(append([]string(nil), prefix...), name)
		b := bc[name]
		switch {
		case !h.isDir():
			if b == nil || b.isDir() || b.blob != h.blob {
				if b != nil && b.isDir() {
					out = append(out, change{parts: p})
				}
				out = append(out, change{parts: p, blob: h.blob})
			}
		default:
			if b != nil && !b.isDir() {
				out = append(out, change{parts: p})
				b = nil
			}
			out = diffTrees(b, h, p, out)
		}
	}
	for name := range bc {
		if _, ok := hc[name]; !ok {
			out = append(out, change{parts: append(append([]string(nil), prefix...), name)})
		}
	}
	return out
}

// encodeTree writes dir and every unwritten subtree through put and
// returns dir's tree id. Entries are ordered as git orders them: by name,
// a directory's name compared as if it ended in "/".
func encodeTree(dir *node, put func(plumbing.ObjectType, []byte) (plumbing.Hash, error)) (plumbing.Hash, error) {
	if !dir.hash.IsZero() {
		return dir.hash, nil
	}
	type entry struct {
		key  string
		name string
		dir  bool
		hash plumbing.Hash
	}
	entries := make([]entry, 0, len(dir.children))
	size := 0
	for name, c := range dir.children {
		e := entry{key: name, name: name, hash: c.blob}
		if c.isDir() {
			h, err := encodeTree(c, put)
			if err != nil {
				return plumbing.ZeroHash, err
			}
			e.key, e.dir, e.hash = name+"/", true, h
		}
		entries = append(entries, e)
		size += len(name) + 8 + len(plumbing.ZeroHash)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].key < entries[j].key })
	buf := make([]byte, 0, size)
	for _, e := range entries {
		if e.dir {
			buf = append(buf, "40000 "...)
		} else {
			buf = append(buf, "100644 "...)
		}
		buf = append(buf, e.name...)
		buf = append(buf, 0)
		buf = append(buf, e.hash[:]...)
	}
	h, err := put(plumbing.TreeObject, buf)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	dir.hash = h
	return h, nil
}
