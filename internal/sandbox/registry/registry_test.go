package registry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/registry"
)

func start(tb testing.TB, opts ...registry.Option) *registry.Registry {
	tb.Helper()
	r := registry.New(opts...)
	if err := r.Start(context.Background()); err != nil {
		tb.Fatalf("Start: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return r
}

// push writes a random image to repo:tag and returns its digest.
func push(tb testing.TB, r *registry.Registry, repo, tag string) v1.Hash {
	tb.Helper()
	img, err := random.Image(64, 1)
	if err != nil {
		tb.Fatal(err)
	}
	ref, err := name.NewTag(r.Host() + "/" + repo + ":" + tag)
	if err != nil {
		tb.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		tb.Fatalf("push %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// get does a plain GET of a manifest with no retries.
func get(tb testing.TB, r *registry.Registry, path string) (*http.Response, error) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, r.URL()+path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json")
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp, err
}

func status(tb testing.TB, r *registry.Registry, path string) int {
	tb.Helper()
	resp, err := get(tb, r, path)
	if err != nil {
		tb.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode
}

func TestHostIsLoopback(t *testing.T) {
	r := start(t)
	if !strings.HasPrefix(r.Host(), "127.0.0.1:") {
		t.Errorf("Host() = %q, want 127.0.0.1:PORT", r.Host())
	}
	if got, want := r.URL(), "http://"+r.Host(); got != want {
		t.Errorf("URL() = %q, want %q", got, want)
	}
}

func TestPushPullBothModes(t *testing.T) {
	for _, referrers := range []bool{false, true} {
		t.Run(map[bool]string{false: "no-referrers-api", true: "referrers-api"}[referrers], func(t *testing.T) {
			r := start(t, registry.WithReferrersAPI(referrers))
			if got := r.ReferrersAPI(); got != referrers {
				t.Errorf("ReferrersAPI() = %v, want %v", got, referrers)
			}
			d := push(t, r, "owner/evidence", "v1")
			ref, _ := name.NewDigest(r.Host() + "/owner/evidence@" + d.String())
			img, err := remote.Image(ref)
			if err != nil {
				t.Fatalf("pull: %v", err)
			}
			got, _ := img.Digest()
			if got != d {
				t.Errorf("pulled digest %s, want %s", got, d)
			}
			if _, err := img.Layers(); err != nil {
				t.Fatal(err)
			}
			want := http.StatusNotFound
			if referrers {
				want = http.StatusOK
			}
			if got := status(t, r, "/v2/owner/evidence/referrers/"+d.String()); got != want {
				t.Errorf("referrers endpoint = %d, want %d", got, want)
			}
		})
	}
}

func TestFaultStatuses(t *testing.T) {
	r := start(t)
	d := push(t, r, "owner/evidence", "v1")
	path := "/v2/owner/evidence/manifests/" + d.String()
	for _, code := range []int{404, 403, 429, 500, 503} {
		r.SetFault("owner/evidence", registry.Fault{Status: code})
		for range 2 {
			if got := status(t, r, path); got != code {
				t.Errorf("with fault %d: got %d", code, got)
			}
		}
	}
	r.ClearFault("owner/evidence")
	if got := status(t, r, path); got != http.StatusOK {
		t.Errorf("after ClearFault: got %d, want 200", got)
	}
}

func TestFaultTooManyRequestsRetryAfter(t *testing.T) {
	r := start(t)
	d := push(t, r, "owner/evidence", "v1")
	r.SetFault("owner/evidence", registry.Fault{Status: http.StatusTooManyRequests, RetryAfter: 1500 * time.Millisecond})
	resp, err := get(t, r, "/v2/owner/evidence/manifests/"+d.String())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := resp.StatusCode, http.StatusTooManyRequests; got != want {
		t.Errorf("status %d, want %d", got, want)
	}
	if got, want := resp.Header.Get("Retry-After"), "2"; got != want {
		t.Errorf("Retry-After %q, want %q (seconds, rounded up)", got, want)
	}

	// The error body is a proper OCI error that clients decode.
	ref, _ := name.NewDigest(r.Host() + "/owner/evidence@" + d.String())
	_, err = remote.Get(ref, remote.WithRetryBackoff(remote.Backoff{Steps: 1}))
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("remote.Get error = %v, want transport error 429", err)
	}
	if len(terr.Errors) == 0 || terr.Errors[0].Code != transport.TooManyRequestsErrorCode {
		t.Errorf("diagnostics = %+v, want TOOMANYREQUESTS", terr.Errors)
	}
}

func TestFaultTimesThenRecovery(t *testing.T) {
	r := start(t)
	d := push(t, r, "owner/evidence", "v1")
	path := "/v2/owner/evidence/manifests/" + d.String()
	r.SetFault("owner/evidence", registry.Fault{Status: http.StatusInternalServerError, Times: 3})
	var got []int
	for range 5 {
		got = append(got, status(t, r, path))
	}
	want := []int{500, 500, 500, 200, 200}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("statuses %v, want %v", got, want)
		}
	}
}

func TestFaultIsPerRepository(t *testing.T) {
	r := start(t)
	a := push(t, r, "owner/a", "v1")
	b := push(t, r, "owner/b", "v1")
	r.SetFault("owner/a", registry.Fault{Status: http.StatusForbidden})
	if got := status(t, r, "/v2/owner/a/manifests/"+a.String()); got != http.StatusForbidden {
		t.Errorf("owner/a: got %d, want 403", got)
	}
	if got := status(t, r, "/v2/owner/b/manifests/"+b.String()); got != http.StatusOK {
		t.Errorf("owner/b: got %d, want 200", got)
	}
	// A remote client sees the fault on every endpoint of the repository.
	ref, _ := name.NewDigest(r.Host() + "/owner/a@" + a.String())
	if _, err := remote.Image(ref); err == nil {
		t.Error("remote.Image of a forbidden repository succeeded")
	}
}

func TestFaultAllRepositories(t *testing.T) {
	r := start(t)
	d := push(t, r, "owner/a", "v1")
	r.SetFault(registry.AllRepositories, registry.Fault{Status: http.StatusServiceUnavailable})
	if got := status(t, r, "/v2/"); got != http.StatusServiceUnavailable {
		t.Errorf("/v2/: got %d, want 503", got)
	}
	r.SetFault("owner/a", registry.Fault{Status: http.StatusForbidden})
	if got := status(t, r, "/v2/owner/a/manifests/"+d.String()); got != http.StatusForbidden {
		t.Errorf("repository fault should win over AllRepositories: got %d", got)
	}
	r.ClearFault("owner/a")
	r.ClearFault(registry.AllRepositories)
	if got := status(t, r, "/v2/owner/a/manifests/"+d.String()); got != http.StatusOK {
		t.Errorf("after clearing: got %d", got)
	}
}

func TestFaultSlowResponse(t *testing.T) {
	r := start(t)
	d := push(t, r, "owner/evidence", "v1")
	const delay = 150 * time.Millisecond
	r.SetFault("owner/evidence", registry.Fault{Delay: delay, Times: 1})
	path := "/v2/owner/evidence/manifests/" + d.String()

	begin := time.Now()
	if got := status(t, r, path); got != http.StatusOK {
		t.Errorf("slow request: got %d, want 200", got)
	}
	if took := time.Since(begin); took < delay {
		t.Errorf("slow request took %v, want ≥ %v", took, delay)
	}

	// A client deadline shorter than the delay times out.
	r.SetFault("owner/evidence", registry.Fault{Delay: time.Minute})
	client := &http.Client{Timeout: 50 * time.Millisecond}
	_, err := client.Get(r.URL() + path)
	if err == nil {
		t.Fatal("GET with short timeout succeeded")
	}
	var ne interface{ Timeout() bool }
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("error %v, want a timeout", err)
	}
}

func TestFaultConnectionReset(t *testing.T) {
	r := start(t)
	d := push(t, r, "owner/evidence", "v1")
	r.SetFault("owner/evidence", registry.Fault{Reset: true, Times: 1})
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(r.URL() + "/v2/owner/evidence/manifests/" + d.String())
	if err == nil {
		resp.Body.Close()
		t.Fatalf("GET succeeded with status %d, want a connection error", resp.StatusCode)
	}
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) {
		t.Errorf("error %v, want connection reset", err)
	}
	// Times: 1 — the next request is served.
	resp, err = client.Get(r.URL() + "/v2/owner/evidence/manifests/" + d.String())
	if err != nil {
		t.Fatalf("after reset: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("after reset: got %d", resp.StatusCode)
	}
}

func TestCounts(t *testing.T) {
	r := start(t, registry.WithReferrersAPI(true))
	d := push(t, r, "owner/evidence", "v1")
	r.ResetCounts()
	status(t, r, "/v2/owner/evidence/manifests/"+d.String())
	status(t, r, "/v2/owner/evidence/manifests/v1")
	status(t, r, "/v2/owner/evidence/referrers/"+d.String())
	status(t, r, "/v2/owner/evidence/tags/list")
	status(t, r, "/v2/owner/evidence/blobs/"+d.String())
	status(t, r, "/v2/owner/other/manifests/v1")
	status(t, r, "/v2/")

	got := r.Counts("owner/evidence")
	want := registry.Counts{Total: 5, Manifests: 2, Blobs: 1, Referrers: 1, Tags: 1}
	if got != want {
		t.Errorf("Counts(owner/evidence) = %+v, want %+v", got, want)
	}
	if got := r.Requests("owner/other"); got != 1 {
		t.Errorf("Requests(owner/other) = %d, want 1", got)
	}
	if got := r.Requests(""); got != 1 {
		t.Errorf("Requests(\"\") = %d, want 1 (version check)", got)
	}
	if got := r.TotalRequests(); got != 7 {
		t.Errorf("TotalRequests() = %d, want 7", got)
	}
	// Faulted requests count too.
	r.SetFault("owner/evidence", registry.Fault{Status: 500})
	status(t, r, "/v2/owner/evidence/manifests/v1")
	if got := r.Requests("owner/evidence"); got != 6 {
		t.Errorf("after faulted request: %d, want 6", got)
	}
}

func TestCountsUploads(t *testing.T) {
	r := start(t)
	push(t, r, "a/b/c", "v1")
	c := r.Counts("a/b/c")
	if c.Blobs == 0 || c.Manifests == 0 || c.Total != c.Blobs+c.Manifests {
		t.Errorf("Counts(a/b/c) after a push = %+v, want only blob and manifest requests", c)
	}
}

func TestDeleteByDigestRemovesTags(t *testing.T) {
	ctx := context.Background()
	r := start(t)
	d := push(t, r, "owner/evidence", "v1")
	// A second tag on the same manifest, and an unrelated tag.
	src, _ := name.NewTag(r.Host() + "/owner/evidence:v1")
	desc, err := remote.Get(src)
	if err != nil {
		t.Fatal(err)
	}
	alias, _ := name.NewTag(r.Host() + "/owner/evidence:alias")
	if err := remote.Tag(alias, desc); err != nil {
		t.Fatal(err)
	}
	other := push(t, r, "owner/evidence", "other")

	if err := r.Delete(ctx, "owner/evidence@"+d.String()); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	for _, ref := range []string{d.String(), "v1", "alias"} {
		if got := status(t, r, "/v2/owner/evidence/manifests/"+ref); got != http.StatusNotFound {
			t.Errorf("%s after delete: got %d, want 404", ref, got)
		}
	}
	for _, ref := range []string{other.String(), "other"} {
		if got := status(t, r, "/v2/owner/evidence/manifests/"+ref); got != http.StatusOK {
			t.Errorf("unrelated %s after delete: got %d, want 200", ref, got)
		}
	}
	// And through the client.
	ref, _ := name.NewTag(r.Host() + "/owner/evidence:v1")
	_, err = remote.Head(ref)
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusNotFound {
		t.Errorf("remote.Head after delete: %v, want 404", err)
	}

	if err := r.Delete(ctx, "owner/evidence@"+d.String()); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("second Delete: %v, want ErrNotFound", err)
	}
}

func TestDeleteByTagKeepsDigest(t *testing.T) {
	ctx := context.Background()
	r := start(t)
	d := push(t, r, "owner/evidence", "v1")
	if err := r.Delete(ctx, r.Host()+"/owner/evidence:v1"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if got := status(t, r, "/v2/owner/evidence/manifests/v1"); got != http.StatusNotFound {
		t.Errorf("tag after delete: got %d, want 404", got)
	}
	if got := status(t, r, "/v2/owner/evidence/manifests/"+d.String()); got != http.StatusOK {
		t.Errorf("digest after tag delete: got %d, want 200", got)
	}
	if err := r.Delete(ctx, "nosuch/repo:v1"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("Delete in missing repository: %v, want ErrNotFound", err)
	}
}

func TestDeleteBypassesFaultsAndCounts(t *testing.T) {
	r := start(t)
	d := push(t, r, "owner/evidence", "v1")
	r.SetFault("owner/evidence", registry.Fault{Status: http.StatusForbidden})
	r.ResetCounts()
	if err := r.Delete(context.Background(), "owner/evidence@"+d.String()); err != nil {
		t.Fatalf("Delete under fault: %v", err)
	}
	if got := r.TotalRequests(); got != 0 {
		t.Errorf("Delete counted %d requests, want 0", got)
	}
}

func TestCloseAbortsDelays(t *testing.T) {
	r := registry.New()
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.SetFault(registry.AllRepositories, registry.Fault{Delay: time.Hour})
	done := make(chan error, 1)
	go func() {
		resp, err := http.Get(r.URL() + "/v2/")
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	// Wait until the request is in flight.
	for r.TotalRequests() == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	begin := time.Now()
	if err := r.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
	if took := time.Since(begin); took > 2*time.Second {
		t.Errorf("Close took %v with a delayed request in flight", took)
	}
	<-done
}

// putReferrer pushes a manifest with a subject and returns its digest.
func putReferrer(tb testing.TB, host, repo string, subject v1.Hash, configMT, artifactType, note string) string {
	tb.Helper()
	raw := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":%q,`+
		`"config":{"mediaType":%q,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},`+
		`"layers":[],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%q,"size":1},`+
		`"annotations":{"note":%q}}`, artifactType, configMT, subject.String(), note)
	h, _, _ := v1.SHA256(strings.NewReader(raw))
	ref, err := name.NewDigest(host + "/" + repo + "@" + h.String())
	if err != nil {
		tb.Fatal(err)
	}
	if err := remote.Put(ref, rawManifest(raw), remote.WithReferrersTagFallback(false)); err != nil {
		tb.Fatalf("put referrer: %v", err)
	}
	return h.String()
}

type rawManifest string

func (r rawManifest) RawManifest() ([]byte, error) { return []byte(r), nil }
func (r rawManifest) MediaType() (types.MediaType, error) {
	return types.OCIManifestSchema1, nil
}

func referrersOf(tb testing.TB, base, repo string, subject v1.Hash) (int, []v1.Descriptor) {
	tb.Helper()
	resp, err := http.Get(base + "/v2/" + repo + "/referrers/" + subject.String() + "?artifactType=x")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil
	}
	if ct := resp.Header.Get("Content-Type"); ct != string(types.OCIImageIndex) {
		tb.Errorf("Content-Type %q", ct)
	}
	im, err := v1.ParseIndexManifest(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	sort.Slice(im.Manifests, func(i, j int) bool { return im.Manifests[i].Digest.String() < im.Manifests[j].Digest.String() })
	return resp.StatusCode, im.Manifests
}

// The indexed Referrers API answers exactly what pkg/registry answers.
func TestReferrersMatchPkgRegistry(t *testing.T) {
	ours := start(t, registry.WithReferrersAPI(true))
	upstream := httptest.NewServer(ggcrregistry.New(ggcrregistry.WithReferrersSupport(true), ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	defer upstream.Close()
	upHost := strings.TrimPrefix(upstream.URL, "http://")

	for _, host := range []string{ours.Host(), upHost} {
		img, _ := random.Image(64, 1)
		d, _ := img.Digest()
		ref, _ := name.NewTag(host + "/owner/evidence:v1")
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		putReferrer(t, host, "owner/evidence", d, "application/vnd.oci.empty.v1+json", "application/vnd.dev.sigstore.bundle.v0.3+json", "a")
		putReferrer(t, host, "owner/evidence", d, "application/vnd.example.config", "", "b")
		putReferrer(t, host, "owner/evidence", v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}, "x/y", "", "other subject")
	}
	// Each registry has its own random subject; compare the answers' shapes.
	for _, tc := range []struct {
		name string
		base string
		host string
	}{{"ours", ours.URL(), ours.Host()}, {"upstream", upstream.URL, upHost}} {
		desc, err := remote.Head(mustTag(t, tc.host+"/owner/evidence:v1"))
		if err != nil {
			t.Fatal(err)
		}
		code, list := referrersOf(t, tc.base, "owner/evidence", desc.Digest)
		if code != http.StatusOK || len(list) != 2 {
			t.Fatalf("%s: %d %+v", tc.name, code, list)
		}
		got := map[string]string{}
		for _, d := range list {
			got[d.Annotations["note"]] = d.ArtifactType
			if d.MediaType != types.OCIManifestSchema1 || d.Size == 0 {
				t.Errorf("%s: descriptor %+v", tc.name, d)
			}
		}
		want := map[string]string{"a": "application/vnd.oci.empty.v1+json", "b": "application/vnd.example.config"}
		if !maps.Equal(got, want) {
			t.Errorf("%s: artifactTypes %v, want %v (config media types, filter ignored)", tc.name, got, want)
		}
		if code, _ := referrersOf(t, tc.base, "nosuch/repo", desc.Digest); code != http.StatusNotFound {
			t.Errorf("%s: unknown repository: %d, want 404", tc.name, code)
		}
		resp, err := http.Get(tc.base + "/v2/owner/evidence/referrers/latest")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: bad digest: %d, want 400", tc.name, resp.StatusCode)
		}
	}
}

func mustTag(tb testing.TB, s string) name.Tag {
	tb.Helper()
	t, err := name.NewTag(s)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

func TestReferrersForgetDeleted(t *testing.T) {
	r := start(t, registry.WithReferrersAPI(true))
	d := push(t, r, "owner/evidence", "v1")
	a := putReferrer(t, r.Host(), "owner/evidence", d, "c/a", "", "a")
	b := putReferrer(t, r.Host(), "owner/evidence", d, "c/b", "", "b")

	// By an HTTP DELETE ...
	req, _ := http.NewRequest(http.MethodDelete, r.URL()+"/v2/owner/evidence/manifests/"+a, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE: %d", resp.StatusCode)
	}
	if _, list := referrersOf(t, r.URL(), "owner/evidence", d); len(list) != 1 || list[0].Digest.String() != b {
		t.Errorf("after DELETE: %+v, want only %s", list, b)
	}
	// ... and by Delete.
	if err := r.Delete(context.Background(), "owner/evidence@"+b); err != nil {
		t.Fatal(err)
	}
	if _, list := referrersOf(t, r.URL(), "owner/evidence", d); len(list) != 0 {
		t.Errorf("after Delete: %+v, want none", list)
	}
}

func BenchmarkReferrersProbe(b *testing.B) {
	r := start(b, registry.WithReferrersAPI(true))
	d := push(b, r, "owner/evidence", "v1")
	for i := range 2000 {
		putReferrer(b, r.Host(), "owner/evidence", v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%064x", i)}, "c/x", "", "")
	}
	putReferrer(b, r.Host(), "owner/evidence", d, "c/x", "", "")
	for b.Loop() {
		if _, list := referrersOf(b, r.URL(), "owner/evidence", d); len(list) != 1 {
			b.Fatal(list)
		}
	}
}
