package audit

import (
	"fmt"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
)

// PointerInfo is what a pointer version says about itself, before any
// verification: the fields `list` prints and every report row starts from
// (SPEC §4, §5). JSON names are part of the contract.
type PointerInfo struct {
	Path          string      `json:"path"`
	Recipe        string      `json:"recipe"`
	Profile       string      `json:"profile"` // "" when the pointer has none
	Source        string      `json:"source"`
	Layout        string      `json:"layout"`
	BundleDigest  string      `json:"bundleDigest"`
	OCI           string      `json:"oci"`
	PredicateType string      `json:"predicateType"`
	Signer        *SignerInfo `json:"signer"`
	RekorLogIndex *int64      `json:"rekorLogIndex"`
	// AttestedAt is the pointer's attestedAt as written (unsigned).
	AttestedAt    string     `json:"attestedAt"`
	AddedCommit   string     `json:"addedCommit"`
	AddedAt       time.Time  `json:"addedAt"`
	RemovedCommit *string    `json:"removedCommit"`
	RemovedAt     *time.Time `json:"removedAt"`
	Problems      []Problem  `json:"problems"`
	// ExtraKeys are the pointer's keys beyond schema 1.0.0 (dotted paths):
	// not problems, ignored as AICR's loader ignores them (SPEC §2.1).
	ExtraKeys []string `json:"extraKeys,omitempty"`
}

// SignerInfo is the signer a pointer claims and its allowlist class.
type SignerInfo struct {
	Identity string `json:"identity"`
	Issuer   string `json:"issuer"`
	Class    string `json:"class"` // first-party | community | partner | unlisted
}

// Problem is something already wrong in the pointer file itself.
type Problem struct {
	Class  string `json:"class"` // schema | placement | legacy-predicate | unsigned
	Field  string `json:"field,omitempty"`
	Detail string `json:"detail"`
}

// Describe inspects one pointer version against the evidence directory's
// layout and the allowlist (nil: every signer is unlisted). It never fails:
// a malformed file is described with its problems, and the parsed pointer is
// returned (nil when it did not parse) for callers that go on to verify it.
func Describe(v PointerVersion, evidenceDir string, allow *evidence.Allowlist) (PointerInfo, *evidence.Pointer) {
	info := PointerInfo{
		Path:        v.Key.Path,
		AddedCommit: v.Key.AddedCommit,
		AddedAt:     v.AddedAt.UTC(),
		Problems:    []Problem{},
	}
	if v.RemovedCommit != "" {
		rc, ra := v.RemovedCommit, v.RemovedAt.UTC()
		info.RemovedCommit, info.RemovedAt = &rc, &ra
	}
	var (
		p        *evidence.Pointer
		loc      evidence.Location
		problems []evidence.Problem
	)
	if v.TooLarge {
		loc, _ = evidence.ParsePath(evidenceDir, v.Key.Path)
		problems = []evidence.Problem{{Kind: evidence.ProblemSchema, Field: "file",
			Detail: fmt.Sprintf("larger than %d bytes; not parsed", evidence.MaxPointerSize)}}
	} else {
		p, loc, problems = evidence.Inspect(evidenceDir, v.Key.Path, v.Content)
	}
	info.Layout = loc.Layout
	info.Recipe = loc.Recipe
	info.Source = loc.Source
	for _, pr := range problems {
		info.Problems = append(info.Problems, Problem{Class: string(pr.Kind), Field: pr.Field, Detail: pr.Detail})
	}
	if p == nil {
		return info, nil
	}
	info.Recipe = p.Recipe
	info.Profile = p.Profile
	info.ExtraKeys = p.ExtraKeys
	if len(p.Attestations) == 0 {
		return info, p
	}
	a := p.Attestations[0]
	info.BundleDigest = a.Bundle.Digest
	info.OCI = a.Bundle.OCI
	info.PredicateType = a.Bundle.PredicateType
	info.AttestedAt = a.AttestedAtRaw
	if s := a.Signer; s != nil {
		info.Signer = &SignerInfo{Identity: s.Identity, Issuer: s.Issuer, Class: string(allow.Classify(s.Issuer, s.Identity))}
		info.RekorLogIndex = s.RekorLogIndex
		if info.Source == "" {
			info.Source = evidence.SourceSlug(s.Issuer, s.Identity)
		}
	}
	return info, p
}
