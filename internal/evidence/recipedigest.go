package evidence

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"

	// The canonical form is defined by what this exact module's encoder
	// writes (SPEC §2.2): AICR hashes yaml.v3 v3.0.1 output, and the
	// go.yaml.in fork used elsewhere in this package may indent or quote
	// differently. This file is the module's only user here.
	yamlv3 "gopkg.in/yaml.v3"
)

// MaxRecipeSize bounds a recipe.yaml that is canonicalized, in bytes. Real
// recipes are a few tens of KiB.
const MaxRecipeSize = 4 << 20

// RecipeFileName is the bundle-relative path of the attested recipe.
const RecipeFileName = "recipe.yaml"

// CanonicalRecipe returns the canonical form of a recipe.yaml as AICR
// digests it for predicate.recipe.digest (SPEC §2.2): the YAML node tree
// with every comment cleared and every mapping's pairs sorted by the key's
// scalar value, recursively; for era v3 only, the top-level metadata
// mapping then loses its version key (the CLI version that wrote the
// recipe, not recipe content); then marshalled again by yaml.v3's default
// encoder. Every other era (v1, v2, legacy, unknown) keeps metadata.version,
// as the evidence of those eras was signed with it.
//
// Errors: empty or oversized input, or YAML the parser rejects.
func CanonicalRecipe(data []byte, era Era) (out []byte, err error) {
	switch {
	case len(data) == 0:
		return nil, errors.New("canonical recipe: empty recipe")
	case len(data) > MaxRecipeSize:
		return nil, fmt.Errorf("canonical recipe: %w: %d bytes, limit is %d", ErrTooLarge, len(data), MaxRecipeSize)
	}
	defer func() {
		// The YAML library panics on a few pathological inputs; a recipe
		// from a bundle must never take the auditor down.
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("canonical recipe: YAML library failed: %v", r)
		}
	}()
	var doc yamlv3.Node
	if err := yamlv3.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("canonical recipe: parse YAML: %w", err)
	}
	canonicalNode(&doc)
	if era == EraV3 {
		dropMetadataVersion(&doc)
	}
	out, err = yamlv3.Marshal(&doc)
	if err != nil {
		return nil, fmt.Errorf("canonical recipe: marshal YAML: %w", err)
	}
	return out, nil
}

// RecipeDigest is the lowercase hex SHA-256 of CanonicalRecipe(data) for
// the era of predicateType: the value predicate.recipe.digest must carry.
func RecipeDigest(data []byte, predicateType string) (string, error) {
	era, _ := PredicateEra(predicateType)
	c, err := CanonicalRecipe(data, era)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(c)
	return hex.EncodeToString(sum[:]), nil
}

// RecipeDigestAlgorithm names the canonicalization of an era, for details:
// which form a digest was computed with.
func RecipeDigestAlgorithm(era Era) string {
	if era == EraV3 {
		return "sha256 of the canonical recipe YAML (yaml.v3 node tree, comments cleared, keys sorted, top-level metadata.version removed)"
	}
	return "sha256 of the canonical recipe YAML (yaml.v3 node tree, comments cleared, keys sorted, metadata.version kept)"
}

// canonicalNode clears n's comments and sorts its mappings, recursively, in
// place. Alias nodes are left alone: their target is canonicalized where it
// stands in the tree. The sort is sort.Slice with a strict key comparison,
// as AICR's: for keys with equal values (only possible in hand-made YAML)
// the resulting order is that algorithm's, so it must not be swapped for a
// stable sort.
func canonicalNode(n *yamlv3.Node) {
	if n == nil {
		return
	}
	n.HeadComment, n.LineComment, n.FootComment = "", "", ""
	switch n.Kind {
	case yamlv3.DocumentNode, yamlv3.SequenceNode:
		for _, c := range n.Content {
			canonicalNode(c)
		}
	case yamlv3.MappingNode:
		type pair struct{ k, v *yamlv3.Node }
		pairs := make([]pair, 0, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			canonicalNode(n.Content[i])
			canonicalNode(n.Content[i+1])
			pairs = append(pairs, pair{n.Content[i], n.Content[i+1]})
		}
		sort.Slice(pairs, func(i, j int) bool { return pairs[i].k.Value < pairs[j].k.Value })
		n.Content = n.Content[:0]
		for _, p := range pairs {
			n.Content = append(n.Content, p.k, p.v)
		}
	}
}

// dropMetadataVersion removes the version key of the first top-level
// metadata mapping, if any.
func dropMetadataVersion(doc *yamlv3.Node) {
	if doc.Kind != yamlv3.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yamlv3.MappingNode {
		return
	}
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		md := root.Content[i+1]
		if root.Content[i].Value != "metadata" || md.Kind != yamlv3.MappingNode {
			continue
		}
		kept := make([]*yamlv3.Node, 0, len(md.Content))
		for j := 0; j+1 < len(md.Content); j += 2 {
			if md.Content[j].Value != "version" {
				kept = append(kept, md.Content[j], md.Content[j+1])
			}
		}
		md.Content = kept
		return
	}
}
