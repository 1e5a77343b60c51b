package archive_test

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/evidence-auditd/evidence-auditd/internal/archive"
	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox"
)

// newRegistry is go-containerregistry's registry in-process, with or
// without the Referrers API; it returns its host.
func newRegistry(t *testing.T, referrers bool) string {
	t.Helper()
	srv := httptest.NewServer(ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0)), ggcr.WithReferrersSupport(referrers)))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func newPusher(t *testing.T, hosts ...string) *archive.Pusher {
	t.Helper()
	p, err := archive.NewPusher("evidence-auditd-test", hosts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRepositoryArchivesAndProves: archive.url in an OCI registry — the
// copies are pushed, read back by the registry client as any origin, and
// prove the bundles once their origin deleted them; the legacy .att image
// keeps its tag, and where the registry lacks the Referrers API the
// referrer is found through its sha256-<hex> tag index.
func TestRepositoryArchivesAndProves(t *testing.T) {
	for _, referrers := range []bool{true, false} {
		t.Run(map[bool]string{true: "referrers-api", false: "tag-schema"}[referrers], func(t *testing.T) {
			f := newFixture(t, cases())
			host := newRegistry(t, referrers)
			f.client = newClient(t, f.w.RegistryHost(), host)
			arch, err := archive.OpenRepository(host+"/aicr/evidence-archive", f.client, newPusher(t, host), nil)
			if err != nil {
				t.Fatal(err)
			}
			s := f.run(t, arch, "v1", "v2", "legacy")
			if s.Archived != 3 {
				t.Fatalf("archived %d, want 3: %+v", s.Archived, s.Results)
			}
			bp := f.built.Pointer("v1")
			if !referrers {
				tag := "sha256-" + strings.TrimPrefix(bp.Digest, "sha256:")
				if _, err := remote.Get(ref(t, host+"/aicr/evidence-archive:"+tag)); err != nil {
					t.Errorf("no referrers tag index %s in the archive: %v", tag, err)
				}
			}
			legacy := f.built.Pointer("legacy")
			if _, err := remote.Get(ref(t, host+"/aicr/evidence-archive:sha256-"+strings.TrimPrefix(legacy.Digest, "sha256:")+".att")); err != nil {
				t.Errorf("the legacy .att image is not under its tag in the archive: %v", err)
			}
			f.deleteOrigin(t, "v1", "v2", "legacy")
			s = f.run(t, arch, "v1", "v2", "legacy")
			for n, r := range byName(f, s) {
				if r.Verdict != audit.Archived || r.VerifiedVia != audit.ViaArchive {
					t.Errorf("%s: %s/%s via %s: %s", n, r.Verdict, r.Class, r.VerifiedVia, r.Detail)
				}
			}
			recs, _ := f.db.ArchivedBundles(context.Background(), arch.Name())
			rep, err := archive.Verify(context.Background(), arch, recs, nil)
			if err != nil || !rep.OK() || rep.Bundles != 3 || rep.Usage.Bytes == 0 {
				t.Errorf("verify %+v (%v), want 3 intact bundles", rep, err)
			}
		})
	}
}

// TestRestore: an archived bundle whose origin is gone is pushed with its
// signature to another registry (with and without the Referrers API) and
// verifies from there, for every signature form.
func TestRestore(t *testing.T) {
	for _, referrers := range []bool{true, false} {
		t.Run(map[bool]string{true: "referrers-api", false: "tag-schema"}[referrers], func(t *testing.T) {
			f := newFixture(t, cases(), sandbox.WithReferrersAPI(!referrers))
			arch := f.layout(t)
			f.run(t, arch, "v1", "v2", "legacy")
			f.deleteOrigin(t, "v1", "v2", "legacy")
			target := newRegistry(t, referrers)
			f.client = newClient(t, f.w.RegistryHost(), target)
			p := newPusher(t, target)
			for _, n := range []string{"v1", "v2", "legacy"} {
				bp := f.built.Pointer(n)
				got, err := archive.Restore(context.Background(), arch, p, bp.Digest, target+"/restored/evidence")
				if err != nil {
					t.Fatalf("%s: %v", n, err)
				}
				if got.Repository != target+"/restored/evidence" || got.Objects < 4 {
					t.Errorf("%s: restored %+v", n, got)
				}
				ev, err := f.client.FetchWhole(context.Background(), target+"/restored/evidence", bp.Digest)
				if err != nil {
					t.Fatalf("%s: fetch from the new place: %v", n, err)
				}
				ver := f.v.Verify(ev, f.want(t, n))
				if ver.Verdict != audit.Verified {
					t.Errorf("%s: from the new place %s/%s: %s", n, ver.Verdict, ver.Class, ver.Detail)
				}
			}
		})
	}
}

func ref(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
