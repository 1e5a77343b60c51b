package job

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/archive"
	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/config"
	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
	"github.com/evidence-auditd/evidence-auditd/internal/registry"
)

// NewArchive is the configured archive store (SPEC §9), or nil when
// archive.enabled is false: an OCI image layout in archive.dir, created
// when absent unless readOnly (archive verify, restore), or the OCI
// repository archive.url. Copies are read back with the configured
// registry limits; the archive repository's host is reached whatever
// registry.allow and registry.allowPrivateNetworks say of pointers' hosts
// (the operator named it), over plain http when registry.plainHTTP lists it.
func NewArchive(cfg *config.Config, userAgent string, inst Instruments, readOnly bool) (archive.Store, error) {
	if !cfg.Archive.Enabled {
		return nil, nil
	}
	if cfg.Archive.URL == "" {
		reader, err := NewRegistryClient(cfg, userAgent, nil)
		if err != nil {
			return nil, err
		}
		if readOnly {
			l, err := archive.OpenLayoutReadOnly(cfg.Archive.Dir, reader)
			if err != nil {
				return nil, fmt.Errorf("archive.dir: %w", err)
			}
			return l, nil
		}
		l, err := archive.OpenLayout(cfg.Archive.Dir, reader, nil)
		if err != nil {
			return nil, fmt.Errorf("archive.dir: %w", err)
		}
		return l, nil
	}
	pusher, err := archive.NewPusher(userAgent, cfg.Registry.PlainHTTP)
	if err != nil {
		return nil, err
	}
	repo, err := pusher.Repository(cfg.Archive.URL)
	if err != nil {
		return nil, Usage(fmt.Errorf("archive.url %w", err))
	}
	host := repo.RegistryStr()
	var plain []string
	for _, h := range cfg.Registry.PlainHTTP {
		if strings.EqualFold(h, host) {
			plain = append(plain, h)
		}
	}
	var wrap func(http.RoundTripper) http.RoundTripper
	if inst != nil {
		wrap = func(rt http.RoundTripper) http.RoundTripper { return inst.InstrumentTransport("archive", rt) }
	}
	reader, err := registry.New(
		registry.WithTransportWrapper(wrap),
		registry.WithPlainHTTP(plain...),
		registry.WithAllowedHosts(host),
		registry.AllowPrivateNetworksUnsafe(true),
		registry.WithTimeout(time.Duration(cfg.Registry.Timeout)),
		registry.WithLimits(registry.Limits{Layer: cfg.Registry.MaxLayerBytes}),
		registry.WithUserAgent(userAgent),
	)
	if err != nil {
		return nil, fmt.Errorf("archive.url: %w", err)
	}
	r, err := archive.OpenRepository(cfg.Archive.URL, reader, pusher, nil)
	if err != nil {
		return nil, Usage(err)
	}
	return r, nil
}

// storeName names an archive store, "" for none.
func storeName(a archive.Store) string {
	if a == nil {
		return ""
	}
	return a.Name()
}

// errArchiveDisabled is the usage error of the archive commands when
// archive.enabled is false.
var errArchiveDisabled = errors.New("archive.enabled is false: there is no archive (set archive.enabled: true, the default)")

// BackfillOutcome is what `archive backfill` did.
type BackfillOutcome struct {
	Store string
	// Run is the complete run whose healthy bundles were considered.
	Run ledger.Run
	// Candidates counts the healthy bundles the archive lacked; Done are
	// the pointer versions handled (one per bundle).
	Candidates int
	Done       []audit.Backfilled
	// Archived counts the copies made; Already the healthy bundles that
	// were archived before (and, with repair, intact).
	Archived, Already int
	// Damaged counts the recorded copies a repair found damaged (each a
	// candidate to copy again).
	Damaged int
}

// Backfill archives every bundle that the latest complete audit run found
// healthy from its origin and that the archive does not hold yet (SPEC
// §9), each after a fresh full verification, under the audit lock (the
// archive has one writer at a time). With repair, the archive is verified
// first and the bundles whose copy is damaged are copied again too.
// progress receives counts.
func (j *Job) Backfill(ctx context.Context, repair bool, progress func(done, total int)) (*BackfillOutcome, error) {
	cfg := j.Config
	if !cfg.Archive.Enabled {
		return nil, Usage(errArchiveDisabled)
	}
	if _, err := os.Stat(cfg.Ledger.Path); err != nil {
		return nil, fmt.Errorf("ledger %s: %w (run `evidence-auditd run` first)", cfg.Ledger.Path, err)
	}
	db, err := ledger.Open(ctx, cfg.Ledger.Path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	ctx, release, err := j.lock(ctx, db, false)
	if err != nil {
		return nil, err
	}
	defer release()
	run, err := db.LatestRun(ctx, true)
	if errors.Is(err, ledger.ErrNotFound) {
		return nil, errors.New("the ledger holds no complete run yet: run `evidence-auditd run` first")
	}
	if err != nil {
		return nil, err
	}
	arch, err := NewArchive(cfg, j.UserAgent, j.Instruments, false)
	if err != nil {
		return nil, err
	}
	out := &BackfillOutcome{Store: arch.Name(), Run: run}
	results, byKey, err := runPointers(ctx, db, run)
	if err != nil {
		return nil, err
	}
	held, err := db.ArchivedBundles(ctx, arch.Name())
	if err != nil {
		return nil, err
	}
	damaged := map[string]bool{}
	if repair {
		rep, err := archive.Verify(ctx, arch, held, nil)
		if err != nil {
			return nil, err
		}
		for _, p := range rep.Problems {
			if _, ok := held[p.Bundle]; ok {
				damaged[p.Bundle] = true
			}
		}
		out.Damaged = len(damaged)
	}
	seen := map[string]bool{}
	var todo []audit.PointerVersion
	for _, r := range results {
		if !r.Verdict.FromOrigin() || r.BundleDigest == "" || seen[r.BundleDigest] {
			continue
		}
		seen[r.BundleDigest] = true
		if _, ok := held[r.BundleDigest]; ok && !damaged[r.BundleDigest] {
			out.Already++
			continue
		}
		if v, ok := byKey[r.Key]; ok {
			todo = append(todo, v)
		}
	}
	sort.Slice(todo, func(a, b int) bool { return todo[a].Key.String() < todo[b].Key.String() })
	out.Candidates = len(todo)
	if len(todo) == 0 {
		return out, nil
	}
	verifier, err := NewVerifier(ctx, cfg)
	if err != nil {
		return nil, err
	}
	source, err := NewRegistryClient(cfg, j.UserAgent, j.Instruments)
	if err != nil {
		return nil, err
	}
	evidenceDir := cfg.Repo.EvidenceDir
	var allow *evidence.Allowlist
	if in, ok, err := db.RunInputs(ctx, run.ID); err == nil && ok {
		if in.EvidenceDir != "" {
			evidenceDir = in.EvidenceDir
		}
		allow = ParseAllowlist(in.Allowlist, evidenceDir+"/"+evidence.AllowlistFile, j.Log)
	}
	runner := &audit.Runner{Source: source, Verifier: verifier, Ledger: db, Archive: arch}
	done, err := runner.Backfill(ctx, todo, audit.Options{
		AsOf: time.Now(), Concurrency: cfg.Registry.Concurrency, EvidenceDir: evidenceDir, Allowlist: allow, Policy: Policy(cfg),
		Recopy: damaged,
	}, progress)
	if err != nil {
		return nil, err
	}
	out.Done = done
	for _, b := range done {
		if b.Archived != nil {
			out.Archived++
		}
	}
	j.Log.Info("archive backfill finished", "store", out.Store, "run", run.ID, "candidates", out.Candidates, "archived", out.Archived,
		"alreadyArchived", out.Already, "damaged", out.Damaged)
	return out, nil
}

// VerifyArchive re-hashes every object of every bundle the ledger records
// in the configured archive (`archive verify`). It reads the ledger and
// the archive only.
func (j *Job) VerifyArchive(ctx context.Context, progress func(done, total int)) (*archive.VerifyReport, error) {
	cfg := j.Config
	if !cfg.Archive.Enabled {
		return nil, Usage(errArchiveDisabled)
	}
	db, arch, records, err := j.openArchived(ctx)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return archive.Verify(ctx, arch, records, progress)
}

// openArchived opens the ledger read-only and the configured archive, and
// reads what the ledger records that archive holds. The caller closes db.
func (j *Job) openArchived(ctx context.Context) (*ledger.DB, archive.Store, map[string]audit.ArchivedBundle, error) {
	db, err := ledger.OpenReadOnly(ctx, j.Config.Ledger.Path)
	if err != nil {
		return nil, nil, nil, err
	}
	arch, err := NewArchive(j.Config, j.UserAgent, j.Instruments, true)
	if err != nil {
		db.Close()
		return nil, nil, nil, err
	}
	records, err := db.ArchivedBundles(ctx, arch.Name())
	if err != nil {
		db.Close()
		return nil, nil, nil, err
	}
	return db, arch, records, nil
}

// RestoreRequest names what `archive restore` pushes and where.
type RestoreRequest struct {
	// Pointers are pointer files (path and bytes) whose bundles to
	// restore; with Lost, the live pointers the latest complete run found
	// archived (origin lost) are restored instead.
	Pointers []PointerFile
	Lost     bool
	// To is the target repository, "REGISTRY/REPOSITORY".
	To string
}

// PointerFile is a pointer file named on the command line.
type PointerFile struct {
	Path    string // as given
	Key     string // repository path, when it sits in a checkout; else ""
	Content []byte
}

// Restored is the outcome for one pointer.
type Restored struct {
	Path   string
	Digest string
	// OCI is the pointer's bundle.oci; NewOCI what it must become ("" when
	// the repository did not change).
	OCI, NewOCI string
	Pushed      *archive.Restored // nil when nothing was pushed
	// Verified is the verification from the new place (zero when nothing
	// was pushed); Err what went wrong before it.
	Verified audit.Result
	Err      error
}

// OK reports whether the bundle was pushed and verifies from its new place.
func (r Restored) OK() bool {
	return r.Err == nil && r.Pushed != nil && r.Verified.Verdict.FromOrigin()
}

// Restore pushes archived bundles with their signatures to req.To and
// verifies each from there as an audit would (SPEC §9). It writes neither
// the ledger nor the archive. An error means nothing could be attempted
// (no ledger, no archive, a bad --to); per-pointer failures are in the
// results.
func (j *Job) Restore(ctx context.Context, req RestoreRequest) ([]Restored, error) {
	cfg := j.Config
	if !cfg.Archive.Enabled {
		return nil, Usage(errArchiveDisabled)
	}
	pusher, err := archive.NewPusher(j.UserAgent, cfg.Registry.PlainHTTP)
	if err != nil {
		return nil, err
	}
	target, err := pusher.Repository(req.To)
	if err != nil {
		return nil, Usage(fmt.Errorf("--to %w", err))
	}
	db, arch, held, err := j.openArchived(ctx)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	versions, err := j.restoreTargets(ctx, db, req)
	if err != nil {
		return nil, err
	}
	verifier, err := NewVerifier(ctx, cfg)
	if err != nil {
		return nil, err
	}
	source, err := NewRegistryClient(cfg, j.UserAgent, j.Instruments)
	if err != nil {
		return nil, err
	}
	to := target.Name()
	runner := &audit.Runner{Source: relocated{Source: source, to: to}, Verifier: verifier}
	var out []Restored
	for _, v := range versions {
		info, p := audit.Describe(v.version, cfg.Repo.EvidenceDir, nil)
		r := Restored{Path: v.path, Digest: info.BundleDigest, OCI: info.OCI}
		switch {
		case p == nil || len(p.Attestations) != 1:
			r.Err = fmt.Errorf("not a pointer with one attestation: %v", info.Problems)
		default:
			if _, ok := held[r.Digest]; !ok {
				r.Err = fmt.Errorf("the archive %s holds no copy of %s", arch.Name(), r.Digest)
				break
			}
			pushed, err := archive.Restore(ctx, arch, pusher, r.Digest, to)
			if err != nil {
				r.Err = err
				break
			}
			r.Pushed = &pushed
			r.Verified = runner.Audit(ctx, v.version, audit.Options{EvidenceDir: cfg.Repo.EvidenceDir, Policy: Policy(cfg)})
			if repositoryOf(r.OCI) != to {
				r.NewOCI = to
			}
		}
		out = append(out, r)
	}
	return out, nil
}

type restoreTarget struct {
	path    string
	version audit.PointerVersion
}

// restoreTargets are the pointer versions to restore: the files given, or
// the live pointers the latest complete run found archived.
func (j *Job) restoreTargets(ctx context.Context, db *ledger.DB, req RestoreRequest) ([]restoreTarget, error) {
	var out []restoreTarget
	if !req.Lost {
		for _, f := range req.Pointers {
			out = append(out, restoreTarget{path: f.Path, version: audit.PointerVersion{Key: audit.VersionKey{Path: f.Key}, Content: f.Content}})
		}
		return out, nil
	}
	run, err := db.LatestRun(ctx, true)
	if errors.Is(err, ledger.ErrNotFound) {
		return nil, errors.New("the ledger holds no complete run yet: nothing is known to be lost")
	}
	if err != nil {
		return nil, err
	}
	results, byKey, err := runPointers(ctx, db, run)
	if err != nil {
		return nil, err
	}
	for _, r := range results {
		v, ok := byKey[r.Key]
		if r.Verdict != audit.Archived || !ok || v.RemovedCommit != "" {
			continue
		}
		out = append(out, restoreTarget{path: r.Key.Path, version: v})
	}
	sort.Slice(out, func(a, b int) bool { return out[a].path < out[b].path })
	return out, nil
}

// relocated is a Source that fetches every bundle from one repository,
// whatever the pointer's locator says: the verification of a restored
// bundle from its new place, with the pointer's claims unchanged (the
// digest pins the bytes; only the locator differs).
type relocated struct {
	audit.Source
	to string
}

func (r relocated) Fetch(ctx context.Context, _, digest string) (*audit.Evidence, error) {
	return r.Source.Fetch(ctx, r.to, digest)
}

func (r relocated) Layer(ctx context.Context, _ string, ev *audit.Evidence, keepBlob bool) (*audit.Layer, error) {
	return r.Source.Layer(ctx, r.to, ev, keepBlob)
}

func (r relocated) Probe(ctx context.Context, _, digest, layer, referrer string) error {
	return r.Source.Probe(ctx, r.to, digest, layer, referrer)
}

// repositoryOf is a locator's "host/repository" (tag and digest dropped,
// the host lowercased).
func repositoryOf(oci string) string {
	s := strings.TrimPrefix(strings.TrimSpace(oci), "oci://")
	if i := strings.IndexByte(s, '@'); i >= 0 {
		s = s[:i]
	}
	host, path, ok := strings.Cut(s, "/")
	if !ok {
		return s
	}
	if i := strings.LastIndexByte(path, ':'); i >= 0 {
		path = path[:i]
	}
	return strings.ToLower(host) + "/" + path
}

// runPointers returns run's results and the pointer versions of its
// repository and branch, by key.
func runPointers(ctx context.Context, db *ledger.DB, run ledger.Run) ([]audit.Result, map[audit.VersionKey]audit.PointerVersion, error) {
	results, err := db.Results(ctx, run.ID)
	if err != nil {
		return nil, nil, err
	}
	versions, err := db.PointerVersions(ctx, run.Repo, run.Ref)
	if err != nil {
		return nil, nil, err
	}
	byKey := make(map[audit.VersionKey]audit.PointerVersion, len(versions))
	for _, v := range versions {
		byKey[v.Key] = v
	}
	return results, byKey, nil
}
