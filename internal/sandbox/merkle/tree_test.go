package merkle_test

import (
	"bytes"
	"crypto/sha256"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/merkle"
)

func leaf(i int) []byte {
	h := sha256.Sum256([]byte{byte(i), byte(i >> 8)})
	return rfc6962.DefaultHasher.HashLeaf(h[:])
}

// TestProofsVerify checks every root, inclusion and consistency proof the
// tree gives against transparency-dev/merkle's verifier, and that a tile's
// hashes (level 8) are the roots of 256-leaf subtrees.
func TestProofsVerify(t *testing.T) {
	var tr merkle.Tree
	if r, _ := tr.Root(0); !bytes.Equal(r, rfc6962.DefaultHasher.EmptyRoot()) {
		t.Fatalf("empty root %x", r)
	}
	const n = 300
	for i := range n {
		tr.Append(leaf(i))
	}
	for _, size := range []uint64{1, 2, 3, 7, 255, 256, 257, 300} {
		root, err := tr.Root(size)
		if err != nil {
			t.Fatal(err)
		}
		for _, idx := range []uint64{0, size / 2, size - 1} {
			p, err := tr.Inclusion(idx, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, idx, size, leaf(int(idx)), p, root); err != nil {
				t.Errorf("inclusion %d in %d: %v", idx, size, err)
			}
		}
		for _, first := range []uint64{1, size / 2, size} {
			if first == 0 {
				continue
			}
			root1, _ := tr.Root(first)
			p, err := tr.Consistency(first, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := proof.VerifyConsistency(rfc6962.DefaultHasher, first, size, p, root1, root); err != nil {
				t.Errorf("consistency %d..%d: %v", first, size, err)
			}
		}
	}
	top, ok := tr.Hash(8, 0)
	if r256, _ := tr.Root(256); !ok || !bytes.Equal(top, r256) {
		t.Errorf("Hash(8, 0) = %x, %v; want the root of 256 leaves %x", top, ok, r256)
	}
	if _, ok := tr.Hash(8, 1); ok {
		t.Error("Hash(8, 1) exists in a tree of 300 leaves")
	}
	if _, err := tr.Inclusion(300, 300); err == nil {
		t.Error("inclusion of a leaf beyond the tree: no error")
	}
	tr.Truncate(100)
	if tr.Size() != 100 {
		t.Errorf("size after Truncate(100) = %d", tr.Size())
	}
	if _, ok := tr.Hash(8, 0); ok {
		t.Error("a 256-leaf subtree survived Truncate(100)")
	}
}
