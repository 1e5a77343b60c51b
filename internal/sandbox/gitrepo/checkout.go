package gitrepo

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
)

// checkout writes root's files into the work tree at dir and an index
// matching them, as a fresh `git clone` would leave it. It replaces
// go-git's Worktree.Reset, which diffed the (empty) work tree against the
// commit and cost ~0.6 ms a file on the benchmark.
func (b *Builder) checkout(dir string, root *node) error {
	idx := &index.Index{Version: 2}
	made := map[string]bool{}
	var walk func(prefix string, n *node) error
	walk = func(prefix string, n *node) error {
		for name, c := range n.children {
			p := name
			if prefix != "" {
				p = prefix + "/" + name
			}
			if c.isDir() {
				if err := walk(p, c); err != nil {
					return err
				}
				continue
			}
			e, err := b.checkoutFile(dir, p, c.blob, made)
			if err != nil {
				return fmt.Errorf("check out %s: %w", p, err)
			}
			idx.Entries = append(idx.Entries, e)
		}
		return nil
	}
	if err := walk("", root); err != nil {
		return err
	}
	sort.Slice(idx.Entries, func(i, j int) bool { return idx.Entries[i].Name < idx.Entries[j].Name })
	if err := b.store.SetIndex(idx); err != nil {
		return fmt.Errorf("write index: %w", err)
	}
	return nil
}

// checkoutFile writes one file; made remembers the directories already
// created, since every file-system call is costly on some sandboxes.
func (b *Builder) checkoutFile(dir, p string, blob plumbing.Hash, made map[string]bool) (*index.Entry, error) {
	obj, err := b.store.EncodedObject(plumbing.BlobObject, blob)
	if err != nil {
		return nil, err
	}
	r, err := obj.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	full := filepath.Join(dir, filepath.FromSlash(p))
	if parent := filepath.Dir(full); !made[parent] {
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return nil, err
		}
		made[parent] = true
	}
	f, err := os.OpenFile(full, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return &index.Entry{
		Hash:       blob,
		Name:       p,
		CreatedAt:  fi.ModTime(),
		ModifiedAt: fi.ModTime(),
		Mode:       filemode.Regular,
		Size:       uint32(fi.Size()),
	}, nil
}
