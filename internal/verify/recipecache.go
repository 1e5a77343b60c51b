package verify

import (
	"crypto/sha256"
	"sync"

	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
)

// maxRecipeDigests bounds the recipe digest cache; it is cleared when full.
const maxRecipeDigests = 4096

// recipeDigests remembers canonical recipe digests by the recipe's bytes
// (their sha256) and the predicate type. Canonicalizing through yaml.v3
// costs about 0.2 ms per KiB of recipe — more than the rest of a bundle's
// content checks — while one recipe.yaml recurs across a recipe's
// evidence and across the audits of a long-running daemon. The digest is a
// pure function of the two, so a hit is exactly what recomputing gives.
type recipeDigests struct {
	mu sync.Mutex
	m  map[recipeKey]string
}

type recipeKey struct {
	sum           [sha256.Size]byte
	predicateType string
}

// digest returns evidence.RecipeDigest(data, predicateType), from the cache
// when it can. Errors are not cached.
func (c *recipeDigests) digest(data []byte, predicateType string) (string, error) {
	k := recipeKey{sha256.Sum256(data), predicateType}
	c.mu.Lock()
	d, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return d, nil
	}
	d, err := evidence.RecipeDigest(data, predicateType)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxRecipeDigests {
		c.m = make(map[recipeKey]string)
	}
	c.m[k] = d
	c.mu.Unlock()
	return d, nil
}
