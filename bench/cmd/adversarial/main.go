// Command adversarial builds and serves the adversarial world of issue 15
// for bench/adversarial.sh: an audit that must stay within its memory
// budget whatever the registry and the log send it.
//
//	go run ./bench/cmd/adversarial -dir DIR            # build and serve until SIGTERM
//	go run ./bench/cmd/adversarial -check REPORT.json -expect DIR/expect.tsv
//
// The world (a sandbox world: private CA, Rekor v1 compatible log,
// in-process OCI registry, git repository, trusted_root.json) holds:
//
//   - -bombs pointers (16) that name a signer but whose summary bundle has
//     no signature attached, and whose layer is a gzip bomb: 255 KiB that
//     inflate to four files of 63.75 MiB (255 MiB, just inside the default
//     tar limits). Expected: invalid/signature — and, signature first, no
//     layer download;
//   - -signed-bombs pointers (4) with the same bomb layer, signed: their
//     signature and statement hold (the predicate pins the bomb's
//     manifest.json), so the layer is streamed and its manifest.json and
//     recipe.yaml (63.75 MiB each) are read in full, within the budget.
//     Expected: invalid/schema (manifest.json is not a manifest);
//   - -gone pointers (3) whose bundles were deleted from the registry, so
//     that the audit asks the transparency log — which here answers every
//     request with 512 MiB (declared by Content-Length on every other
//     request, chunked and endless on the rest). Expected:
//     no-verdict/transient;
//   - -good pointers (8), ordinary signed bundles. Expected: verified.
//
// Into DIR it writes the world's files, evidence-auditd.yaml (rekor.url
// pointing at the 512 MiB log), expect.tsv (path, verdict, class per
// pointer), world.env (AS_OF, CONFIG, EXPECT, LOG_STATS, PID) and, last,
// ready. On SIGTERM it writes LOG_STATS: the requests the huge log
// answered and the bytes it got out before the auditor hung up.
//
// With -check it compares a `report --format json` document with
// expect.tsv and exits 1 on any difference. It is a benchmark tool, not
// product code.
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/evidence-auditd/evidence-auditd/internal/sandbox"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/gitrepo"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/publish"
)

const (
	bombFiles    = 4
	bombFileSize = 63<<20 + 3<<18 // 63.75 MiB: four make 255 MiB
	logBody      = 512 << 20
	repository   = "aicr/evidence"
)

func main() {
	dir := flag.String("dir", "", "world directory (created)")
	bombs := flag.Int("bombs", 16, "unsigned pointers with a gzip-bomb layer")
	signedBombs := flag.Int("signed-bombs", 4, "signed pointers with a gzip-bomb layer")
	gone := flag.Int("gone", 3, "pointers whose bundle is gone, proven against the 512 MiB log")
	good := flag.Int("good", 8, "ordinary signed pointers")
	check := flag.String("check", "", "compare this report JSON with -expect and exit")
	expect := flag.String("expect", "", "expect.tsv, with -check")
	flag.Parse()
	if *check != "" {
		if err := checkReport(*check, *expect); err != nil {
			log.Fatalf("check: %v", err)
		}
		return
	}
	if *dir == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*dir, *bombs, *signedBombs, *gone, *good); err != nil {
		log.Fatalf("adversarial: %v", err)
	}
}

// expectation is one pointer's expected verdict.
type expectation struct{ path, verdict, class string }

func run(dir string, bombs, signedBombs, gone, good int) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	now := time.Now().UTC().Truncate(time.Second)

	w := sandbox.New(dir)
	if err := w.Start(ctx); err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = w.Close(cctx)
	}()

	// Ordinary and gone pointers: sandbox cases.
	cases := sandbox.ScaleCases(good+gone, now)
	for i := good; i < len(cases); i++ {
		cases[i].DeleteAfterPublish = true
		cases[i].Repository = "aicr/gone"
		cases[i].Expect = sandbox.Expectation{Verdict: sandbox.NoVerdict, Class: sandbox.ClassTransient}
	}
	built, err := w.Build(ctx, cases)
	if err != nil {
		return err
	}
	var merges []gitrepo.PointerMerge
	var want []expectation
	for _, bp := range built.Pointers {
		merges = append(merges, gitrepo.PointerMerge{Path: bp.Path, Content: bp.Content, MergedAt: bp.MergedAt})
		want = append(want, expectation{bp.Path, bp.Case.Expect.Verdict, bp.Case.Expect.Class})
	}

	// The bombs.
	layer, kept, err := bombLayer()
	if err != nil {
		return err
	}
	target := publish.Target{Host: w.RegistryHost(), Repo: repository, PlainHTTP: true}
	pub := publish.NewPublisher()
	signer := w.StatementSigner(sandbox.EraV1)
	for i := range bombs + signedBombs {
		signed := i >= bombs
		id := sandbox.SignerNVIDIA
		at := now.Add(-time.Duration(i+1) * time.Hour)
		recipe := cases[i%len(cases)].Recipe
		s, err := bombSummary(recipe, i, at, layer, kept)
		if err != nil {
			return err
		}
		var ss publish.StatementSigner
		if signed {
			ss = signer
		}
		p, err := pub.Publish(ctx, target, s, ss, publish.Identity{SAN: id.Identity, Issuer: id.Issuer}, at, publish.AttachAuto)
		if err != nil {
			return fmt.Errorf("publish bomb %d: %w", i, err)
		}
		var idx *int64
		if signed {
			idx = &p.LogIndex
		}
		content := gitrepo.PointerYAML(gitrepo.PointerFields{
			Recipe: recipe, AttestedAt: at.Add(-sandbox.RunToSign), OCI: p.OCIRef, Digest: s.ManifestDigest,
			PredicateType: publish.PredicateV3, Identity: id.Identity, Issuer: id.Issuer, RekorLogIndex: idx,
		})
		path := gitrepo.PerSourcePath(recipe, id.Issuer, id.Identity, s.ManifestDigest)
		merges = append(merges, gitrepo.PointerMerge{Path: path, Content: content, MergedAt: at.Add(time.Hour)})
		e := expectation{path, sandbox.Invalid, sandbox.ClassSignature}
		if signed {
			e.class = sandbox.ClassSchema
		}
		want = append(want, e)
	}

	// One repository with every pointer.
	if err := os.RemoveAll(w.RepoDir()); err != nil {
		return err
	}
	if _, err := gitrepo.Generate(w.RepoDir(), gitrepo.Scenario{Pointers: sortByTime(merges)}); err != nil {
		return err
	}

	// The log that answers 512 MiB to everything.
	var requests, sent atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: hugeLog(&requests, &sent)}
	go srv.Serve(ln)
	defer srv.Close()

	if err := w.WriteConfig(w.ConfigPath()); err != nil {
		return err
	}
	if err := pointRekorAt(w.ConfigPath(), "http://"+ln.Addr().String()); err != nil {
		return err
	}
	var tsv strings.Builder
	for _, e := range want {
		fmt.Fprintf(&tsv, "%s\t%s\t%s\n", e.path, e.verdict, e.class)
	}
	if err := os.WriteFile(filepath.Join(dir, "expect.tsv"), []byte(tsv.String()), 0o644); err != nil {
		return err
	}
	stats := filepath.Join(dir, "log-stats")
	env := fmt.Sprintf("AS_OF=%s\nCONFIG=%s\nEXPECT=%s\nLOG_STATS=%s\nN=%d\nPID=%d\n",
		now.Format(time.RFC3339), w.ConfigPath(), filepath.Join(dir, "expect.tsv"), stats, len(want), os.Getpid())
	if err := os.WriteFile(filepath.Join(dir, "world.env"), []byte(env), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "ready"), nil, 0o644); err != nil {
		return err
	}
	log.Printf("adversarial world: %d pointers (%d bombs, %d signed bombs, %d gone, %d good); registry %s, log %s",
		len(want), bombs, signedBombs, gone, good, w.RegistryHost(), ln.Addr())
	<-ctx.Done()
	return os.WriteFile(stats, fmt.Appendf(nil, "requests=%d bytes=%d\n", requests.Load(), sent.Load()), 0o644)
}

// bombLayer is a tar+gzip layer of bombFiles files of bombFileSize zero
// bytes: manifest.json, recipe.yaml and two more. kept is the sha256 of one
// such file.
func bombLayer() (layer []byte, kept string, err error) {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	tw := tar.NewWriter(zw)
	zero := make([]byte, 1<<20)
	names := []string{"manifest.json", "recipe.yaml", "bom.cdx.json", "snapshot.yaml"}
	h := sha256.New()
	for i := range bombFiles {
		if err := tw.WriteHeader(&tar.Header{Name: names[i], Mode: 0o644, Size: bombFileSize, Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}); err != nil {
			return nil, "", err
		}
		for n := 0; n < bombFileSize; n += len(zero) {
			k := min(len(zero), bombFileSize-n)
			if _, err := tw.Write(zero[:k]); err != nil {
				return nil, "", err
			}
			if i == 0 {
				h.Write(zero[:k])
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, "", err
	}
	if err := zw.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// bombSummary is a summary bundle of recipe whose layer is the bomb. Its
// predicate is an ordinary one that pins the bomb's manifest.json, so that
// a signature over it holds and the layer is read.
func bombSummary(recipe string, i int, at time.Time, layer []byte, kept string) (*publish.Summary, error) {
	s, err := publish.BuildSummary(publish.SummarySpec{Recipe: recipe, AttestedAt: at.Add(-sandbox.RunToSign), RunID: fmt.Sprintf("bomb-%d", i)})
	if err != nil {
		return nil, err
	}
	s.Predicate.Manifest = publish.InventoryRef{Digest: kept, FileCount: bombFiles}
	s.Layer = layer
	sum := sha256.Sum256(layer)
	s.LayerDigest = "sha256:" + hex.EncodeToString(sum[:])
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  publish.ArtifactTypeSummary,
		Config:        v1.Descriptor{MediaType: types.MediaType(publish.MediaTypeEmpty), Size: 2, Digest: v1.Hash{Algorithm: "sha256", Hex: sha256Hex([]byte("{}"))}},
		Layers: []v1.Descriptor{{
			MediaType: types.MediaType(publish.MediaTypeLayer),
			Size:      int64(len(layer)),
			Digest:    v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])},
		}},
		Annotations: map[string]string{publish.AnnotationCreated: at.Format(time.RFC3339), "bench.bomb": fmt.Sprint(i)},
	}
	if s.Manifest, err = json.Marshal(m); err != nil {
		return nil, err
	}
	s.ManifestDigest = "sha256:" + sha256Hex(s.Manifest)
	return s, nil
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// hugeLog answers every request with a 200 and logBody bytes of one JSON
// string that never closes: on odd requests with that Content-Length, on
// even ones chunked.
func hugeLog(requests, sent *atomic.Int64) http.Handler {
	chunk := bytes.Repeat([]byte("a"), 64<<10)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if n%2 == 1 {
			w.Header().Set("Content-Length", fmt.Sprint(logBody))
		}
		w.WriteHeader(http.StatusOK)
		k, _ := io.WriteString(w, `{"x":"`)
		sent.Add(int64(k))
		for total := k; total < logBody; {
			k, err := w.Write(chunk[:min(len(chunk), logBody-total)])
			total += k
			sent.Add(int64(k))
			if err != nil {
				return
			}
		}
	})
}

var rekorURL = regexp.MustCompile(`(?m)^(\s*url:\s*).*$`)

// pointRekorAt rewrites rekor.url in the sandbox configuration.
func pointRekorAt(path, url string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	lines := strings.Split(string(b), "\n")
	inRekor := false
	done := false
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "rekor:"):
			inRekor = true
		case inRekor && rekorURL.MatchString(l):
			lines[i] = rekorURL.ReplaceAllString(l, "${1}"+url)
			inRekor, done = false, true
		case len(l) > 0 && l[0] != ' ':
			inRekor = false
		}
	}
	if !done {
		return errors.New("no rekor.url in " + path)
	}
	return os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644)
}

func sortByTime(ms []gitrepo.PointerMerge) []gitrepo.PointerMerge {
	out := append([]gitrepo.PointerMerge(nil), ms...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].MergedAt.Before(out[j-1].MergedAt); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// checkReport compares a report's pointers with expect.tsv.
func checkReport(reportPath, expectPath string) error {
	raw, err := os.ReadFile(reportPath)
	if err != nil {
		return err
	}
	var rep struct {
		Pointers []struct {
			Path    string `json:"path"`
			Verdict string `json:"verdict"`
			Class   string `json:"class"`
			Detail  string `json:"detail"`
		} `json:"pointers"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		return fmt.Errorf("%s: %w", reportPath, err)
	}
	got := map[string][2]string{}
	for _, p := range rep.Pointers {
		got[p.Path] = [2]string{p.Verdict, p.Class}
	}
	f, err := os.Open(expectPath)
	if err != nil {
		return err
	}
	defer f.Close()
	var bad []string
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.Split(sc.Text(), "\t")
		if len(parts) != 3 {
			continue
		}
		n++
		g, ok := got[parts[0]]
		if !ok || g[0] != parts[1] || g[1] != parts[2] {
			bad = append(bad, fmt.Sprintf("%s: got %s/%s, want %s/%s", parts[0], g[0], g[1], parts[1], parts[2]))
		}
	}
	if len(rep.Pointers) != n {
		bad = append(bad, fmt.Sprintf("the report has %d pointers, expect.tsv %d", len(rep.Pointers), n))
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "\n"))
	}
	fmt.Printf("all %d verdicts as expected\n", n)
	return nil
}
