package tlog

import (
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// tree is an append-only RFC 6962 Merkle tree that keeps the hash of every
// perfect subtree, so roots and proofs for any size cost O(log n).
type tree struct {
	// levels[k][i] is the hash of the perfect subtree of 2^k leaves
	// starting at leaf i<<k.
	levels [][][]byte
}

func (t *tree) size() uint64 {
	if len(t.levels) == 0 {
		return 0
	}
	return uint64(len(t.levels[0]))
}

func (t *tree) appendLeaf(leafHash []byte) {
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

// truncate drops every leaf at or after size.
func (t *tree) truncate(size uint64) {
	for k := range t.levels {
		keep := size >> uint(k)
		if uint64(len(t.levels[k])) > keep {
			t.levels[k] = t.levels[k][:keep]
		}
	}
}

func (t *tree) node(id compact.NodeID) ([]byte, error) {
	if int(id.Level) >= len(t.levels) || id.Index >= uint64(len(t.levels[id.Level])) {
		return nil, fmt.Errorf("node %d/%d not in tree", id.Level, id.Index)
	}
	return t.levels[id.Level][id.Index], nil
}

// root returns the RFC 6962 root hash of the first size leaves.
func (t *tree) root(size uint64) ([]byte, error) {
	if size > t.size() {
		return nil, fmt.Errorf("size %d beyond tree size %d", size, t.size())
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

func (t *tree) fetch(n proof.Nodes) ([][]byte, error) {
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

// inclusion returns the audit path of leaf index in the tree of size leaves.
func (t *tree) inclusion(index, size uint64) ([][]byte, error) {
	if size > t.size() || index >= size {
		return nil, fmt.Errorf("inclusion of %d in %d: out of range (tree size %d)", index, size, t.size())
	}
	n, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, err
	}
	return t.fetch(n)
}

// consistency returns the consistency proof between sizes size1 <= size2.
func (t *tree) consistency(size1, size2 uint64) ([][]byte, error) {
	if size2 > t.size() {
		return nil, fmt.Errorf("consistency %d..%d: beyond tree size %d", size1, size2, t.size())
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
