package archive

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strings"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
)

// ErrIncomplete: the evidence handed to Put lacks an object one of its
// manifests names (a signature config that could not be read, a layer of a
// .att image that is not a DSSE envelope), or its parts do not belong
// together. Nothing is archived then: a copy must be whole.
var ErrIncomplete = errors.New("incomplete bundle")

// bundle is one bundle's objects, checked for a copy.
type bundle struct {
	digest  string       // the summary manifest
	summary audit.Object // its manifest
	sig     audit.Object // the signature's manifest
	kind    audit.SignatureKind
	// artifactType of the signature manifest, for its index entry.
	artifactType string
	objects      []audit.Object // summary manifest, config, layer, then the signature's; each digest once
}

// manifestRefs is what a manifest names, for the completeness check.
type manifestRefs struct {
	MediaType    string `json:"mediaType"`
	ArtifactType string `json:"artifactType"`
	Config       struct {
		Digest string `json:"digest"`
	} `json:"config"`
	Layers []struct {
		Digest string `json:"digest"`
	} `json:"layers"`
	Subject *struct {
		Digest string `json:"digest"`
	} `json:"subject"`
}

// bundleOf gathers what Put copies of a verified bundle: the summary's
// objects (ev.Objects) and the signature that verified it (sig.Objects),
// and checks that they make a whole: the summary manifest is digest, every
// config and layer a manifest names is present, and a referrer's subject
// is the summary. Whether each object's bytes match its digest the store
// checks as it writes them.
func bundleOf(digest string, ev *audit.Evidence, sig audit.Signature) (*bundle, error) {
	if ev == nil || len(ev.Objects) == 0 || len(sig.Objects) == 0 {
		return nil, fmt.Errorf("%w: the source kept no raw objects of %s", ErrIncomplete, digest)
	}
	b := &bundle{digest: digest, summary: ev.Objects[0], sig: sig.Objects[0], kind: sig.Kind}
	if !b.summary.Manifest || b.summary.Digest != digest {
		return nil, fmt.Errorf("%w: the first object is %s, not the summary manifest %s", ErrIncomplete, b.summary.Digest, digest)
	}
	if !b.sig.Manifest {
		return nil, fmt.Errorf("%w: the signature's first object %s is not a manifest", ErrIncomplete, b.sig.Digest)
	}
	have := map[string]bool{}
	for _, o := range append(append([]audit.Object{}, ev.Objects...), sig.Objects...) {
		if !have[o.Digest] {
			have[o.Digest] = true
			b.objects = append(b.objects, o)
		}
	}
	for _, m := range []audit.Object{b.summary, b.sig} {
		var refs manifestRefs
		if err := json.Unmarshal(m.Data, &refs); err != nil {
			return nil, fmt.Errorf("%w: manifest %s: %v", ErrIncomplete, m.Digest, err)
		}
		for _, d := range append([]string{refs.Config.Digest}, layerDigests(refs)...) {
			if !have[d] {
				return nil, fmt.Errorf("%w: manifest %s names %s, which was not read", ErrIncomplete, m.Digest, d)
			}
		}
		if m.Digest == b.sig.Digest {
			b.artifactType = refs.ArtifactType
			if sig.Kind == audit.SigstoreBundle && (refs.Subject == nil || refs.Subject.Digest != digest) {
				return nil, fmt.Errorf("%w: the signature referrer %s is not attached to %s", ErrIncomplete, m.Digest, digest)
			}
		}
	}
	return b, nil
}

func layerDigests(m manifestRefs) []string {
	out := make([]string, len(m.Layers))
	for i, l := range m.Layers {
		out[i] = l.Digest
	}
	return out
}

// record is the ledger's record of b in the store named store.
func (b *bundle) record(store string, at time.Time) audit.ArchivedBundle {
	rec := audit.ArchivedBundle{Digest: b.digest, Store: store, Signature: b.kind, ReferrerDigest: b.sig.Digest, At: at.UTC(), Bytes: b.size()}
	for _, o := range b.objects {
		rec.Objects = append(rec.Objects, audit.ObjectRef{Digest: o.Digest, MediaType: o.MediaType, Size: o.Size(), Manifest: o.Manifest})
	}
	return rec
}

// size is the total size of b's objects, each digest once.
func (b *bundle) size() int64 {
	var n int64
	for _, o := range b.objects {
		n += o.Size()
	}
	return n
}

// legacyTag is the tag cosign gives the .att image of digest.
func legacyTag(digest string) string { return strings.Replace(digest, ":", "-", 1) + ".att" }

// newHash returns the hash of an OCI digest's algorithm and its hex.
func newHash(digest string) (hash.Hash, string, error) {
	alg, want, ok := strings.Cut(digest, ":")
	if !ok {
		return nil, "", fmt.Errorf("digest %q: no algorithm", digest)
	}
	switch alg {
	case "sha256":
		if len(want) != 64 {
			break
		}
		return sha256.New(), want, nil
	case "sha512":
		if len(want) != 128 {
			break
		}
		return sha512.New(), want, nil
	}
	return nil, "", fmt.Errorf("digest %q: want sha256:<64 hex> or sha512:<128 hex>", digest)
}

// checkDigest reports whether data matches digest.
func checkDigest(digest string, data []byte) error {
	h, want, err := newHash(digest)
	if err != nil {
		return err
	}
	h.Write(data)
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("content is %s:%s, not %s", strings.SplitN(digest, ":", 2)[0], got, digest)
	}
	return nil
}
