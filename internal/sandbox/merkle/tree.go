package merkle

import (
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// Tree is an append-only RFC 6962 Merkle tree that keeps the hash of every
// perfect subtree, so roots and proofs for any size cost O(log n), and a
// tile of any level is a slice of one of its levels. The zero value is an
// empty tree. It is not safe for concurrent use: its owner locks.
type Tree struct {
	// levels[k][i] is the hash of the perfect subtree of 2^k leaves
	// starting at leaf i<<k.
	levels [][][]byte
}

// Size returns the number of leaves.
func (t *Tree) Size() uint64 {
	if len(t.levels) == 0 {
		return 0
	}
	return uint64(len(t.levels[0]))
}

// Append adds a leaf by its RFC 6962 leaf hash.
func (t *Tree) Append(leafHash []byte) {
	if len(t.levels) == 0 {
		t.levels = append(t.levels, nil)
	}
	t.levels[0] = append(t.levels[0], leafHash)
	for k := 0; ; k++ {
		n := len(t.levels[k])
		if n%2 != 0 {
			return
		}
		if len(t.levels) == k+1 {
			t.levels = append(t.levels, nil)
		}
		t.levels[k+1] = append(t.levels[k+1], rfc6962.DefaultHasher.HashChildren(t.levels[k][n-2], t.levels[k][n-1]))
	}
}

// Truncate drops every leaf at or after size.
func (t *Tree) Truncate(size uint64) {
	for k := range t.levels {
		keep := size >> uint(k)
		if uint64(len(t.levels[k])) > keep {
			t.levels[k] = t.levels[k][:keep]
		}
	}
}

func (t *Tree) node(id compact.NodeID) ([]byte, error) {
	if int(id.Level) >= len(t.levels) || id.Index >= uint64(len(t.levels[id.Level])) {
		return nil, fmt.Errorf("node %d/%d not in tree", id.Level, id.Index)
	}
	return t.levels[id.Level][id.Index], nil
}

// Root returns the RFC 6962 root hash of the first size leaves.
func (t *Tree) Root(size uint64) ([]byte, error) {
	if size > t.Size() {
		return nil, fmt.Errorf("size %d beyond tree size %d", size, t.Size())
	}
	if size == 0 {
		return rfc6962.DefaultHasher.EmptyRoot(), nil
	}
	ids := compact.RangeNodes(0, size, nil)
	h, err := t.node(ids[len(ids)-1])
	if err != nil {
		return nil, err
	}
	for i := len(ids) - 2; i >= 0; i-- {
		left, err := t.node(ids[i])
		if err != nil {
			return nil, err
		}
		h = rfc6962.DefaultHasher.HashChildren(left, h)
	}
	return h, nil
}

func (t *Tree) fetch(n proof.Nodes) ([][]byte, error) {
	hashes := make([][]byte, len(n.IDs))
	for i, id := range n.IDs {
		h, err := t.node(id)
		if err != nil {
			return nil, err
		}
		hashes[i] = h
	}
	return n.Rehash(hashes, rfc6962.DefaultHasher.HashChildren)
}

// Inclusion returns the audit path of leaf index in the tree of size leaves.
func (t *Tree) Inclusion(index, size uint64) ([][]byte, error) {
	if size > t.Size() || index >= size {
		return nil, fmt.Errorf("inclusion of %d in %d: out of range (tree size %d)", index, size, t.Size())
	}
	n, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, err
	}
	return t.fetch(n)
}

// Consistency returns the consistency proof between sizes size1 <= size2.
func (t *Tree) Consistency(size1, size2 uint64) ([][]byte, error) {
	if size2 > t.Size() {
		return nil, fmt.Errorf("consistency %d..%d: beyond tree size %d", size1, size2, t.Size())
	}
	if size1 > size2 {
		return nil, errors.New("consistency: first size after second")
	}
	n, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, err
	}
	return t.fetch(n)
}

// Hash returns the hash of the perfect subtree of 2^level leaves starting
// at leaf index<<level, and whether the tree holds it: for level 0 the leaf
// hashes, for level 8·L the hashes a C2SP tlog-tiles tile of level L holds.
func (t *Tree) Hash(level uint, index uint64) ([]byte, bool) {
	if int(level) >= len(t.levels) || index >= uint64(len(t.levels[level])) {
		return nil, false
	}
	return t.levels[level][index], true
}
