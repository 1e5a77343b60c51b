package registry

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
)

// store is where the evidence readers (summary.go, referrers.go,
// candidates.go) get OCI content: a repository over HTTP (httpStore), or a
// Store the caller hands in (the auditor's archive). Both return
// *FetchError; the readers apply the same rules to either.
type store interface {
	// name is "host/repository" (or the Store's name), for messages.
	name() string
	// manifest returns the manifest named by reference (a digest, checked
	// against it, or a tag) within the manifest limit, and its media type.
	manifest(ctx context.Context, reference, op string) ([]byte, string, error)
	// blob returns d's bytes: at most limit, exactly d.Size, matching d.Digest.
	blob(ctx context.Context, d Descriptor, limit int64, op string) ([]byte, error)
	// referrers lists the referrers of digest; supported is false when the
	// store has no Referrers API.
	referrers(ctx context.Context, digest string) (descs []Descriptor, supported bool, err error)
}

// httpStore is one repository of a registry, reached through c.
type httpStore struct {
	c *Client
	t target
}

func (h httpStore) name() string { return h.t.repo.String() }

func (h httpStore) manifest(ctx context.Context, reference, op string) ([]byte, string, error) {
	return h.c.getManifest(ctx, h.t, reference, op)
}

func (h httpStore) blob(ctx context.Context, d Descriptor, limit int64, op string) ([]byte, error) {
	return h.c.getBlob(ctx, h.t, d, limit, op)
}

func (h httpStore) referrers(ctx context.Context, digest string) ([]Descriptor, bool, error) {
	return h.c.referrersAPI(ctx, h.t, digest)
}

// Store is OCI content that is not reached over the distribution API — the
// auditor's archive, an OCI image layout directory — for ReadEvidence to
// read with the very rules it applies to a registry. Implementations
// return *FetchError: KindGone when something is absent, KindIntegrity for
// wrong bytes, KindTransient when it cannot be read now. ReadEvidence
// checks every manifest fetched by digest and every blob against its
// digest and the Client's limits itself, whatever the Store did.
type Store interface {
	// Name names the store in messages (e.g. "oci-layout:/var/lib/…/archive").
	Name() string
	// Manifest returns the manifest reference names (a digest or a tag)
	// and its media type ("" to take the body's mediaType field).
	Manifest(ctx context.Context, reference string) ([]byte, string, error)
	// Blob returns the bytes of the blob d names (d.Digest; d.Size bounds
	// what is worth reading).
	Blob(ctx context.Context, d Descriptor) ([]byte, error)
	// Referrers lists the manifests whose subject is digest, each with its
	// artifactType (an empty list when there are none).
	Referrers(ctx context.Context, digest string) ([]Descriptor, error)
}

// extStore adapts a Store to the readers, with the checks a registry's
// responses get (limits, sizes, digests).
type extStore struct {
	c *Client
	s Store
}

func (e extStore) name() string { return e.s.Name() }

// fail keeps a Store's *FetchError and classifies anything else as
// transient: a Store that cannot say what went wrong proves nothing.
func (e extStore) fail(op, at string, err error) error {
	var fe *FetchError
	if errors.As(err, &fe) {
		return err
	}
	kind := KindTransient
	if errors.Is(err, context.Canceled) {
		kind = KindCanceled
	}
	return &FetchError{Op: op, Ref: at, Kind: kind, Err: err}
}

func (e extStore) manifest(ctx context.Context, reference, op string) ([]byte, string, error) {
	at := e.s.Name() + "@" + reference
	if !strings.Contains(reference, ":") {
		at = e.s.Name() + ":" + reference
	}
	raw, mt, err := e.s.Manifest(ctx, reference)
	if err != nil {
		return nil, "", e.fail(op, at, err)
	}
	bad := func(err error) error { return &FetchError{Op: op, Ref: at, Kind: KindIntegrity, Err: err} }
	if int64(len(raw)) > e.c.o.limits.Manifest {
		return nil, "", bad(integrityf("manifest of %d bytes exceeds the %d-byte limit", len(raw), e.c.o.limits.Manifest))
	}
	if strings.Contains(reference, ":") {
		if err := verifyDigest(raw, reference); err != nil {
			return nil, "", bad(err)
		}
	}
	var probe struct {
		MediaType string `json:"mediaType"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, "", bad(integrityf("malformed manifest: %v", err))
	}
	if probe.MediaType != "" {
		mt = probe.MediaType
	}
	return raw, mt, nil
}

func (e extStore) blob(ctx context.Context, d Descriptor, limit int64, op string) ([]byte, error) {
	at := e.s.Name() + "@" + d.Digest
	if b, ok, err := knownBlob(op, at, d, limit); ok || err != nil {
		return b, err
	}
	b, err := e.s.Blob(ctx, d)
	if err != nil {
		return nil, e.fail(op, at, err)
	}
	if int64(len(b)) != d.Size {
		return nil, &FetchError{Op: op, Ref: at, Kind: KindIntegrity, Err: integrityf("blob of %d bytes, descriptor says %d", len(b), d.Size)}
	}
	if err := verifyDigest(b, d.Digest); err != nil {
		return nil, &FetchError{Op: op, Ref: at, Kind: KindIntegrity, Err: err}
	}
	return b, nil
}

func (e extStore) referrers(ctx context.Context, digest string) ([]Descriptor, bool, error) {
	descs, err := e.s.Referrers(ctx, digest)
	if err != nil {
		return nil, false, e.fail("referrers", e.s.Name()+"@"+digest, err)
	}
	return descs, true, nil
}

// knownBlob checks a descriptor against limit and returns the blobs no
// request is needed for: the OCI empty descriptor and inline data. ok is
// false when the blob must be fetched.
func knownBlob(op, at string, d Descriptor, limit int64) (b []byte, ok bool, err error) {
	if err := checkDescriptor(d, limit); err != nil {
		return nil, false, &FetchError{Op: op, Ref: at, Kind: KindIntegrity, Err: err}
	}
	if d.Digest == emptyJSONDigest && d.Size == 2 {
		return []byte("{}"), true, nil
	}
	if d.Data != nil {
		if int64(len(d.Data)) != d.Size {
			return nil, false, &FetchError{Op: op, Ref: at, Kind: KindIntegrity, Err: integrityf("inline data of %d bytes, descriptor says %d", len(d.Data), d.Size)}
		}
		if err := verifyDigest(d.Data, d.Digest); err != nil {
			return nil, false, &FetchError{Op: op, Ref: at, Kind: KindIntegrity, Err: err}
		}
		return d.Data, true, nil
	}
	return nil, false, nil
}
