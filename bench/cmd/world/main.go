// Command world builds a sandbox world of N good pointers for
// bench/compare-cosign.sh and serves it (transparency log and OCI registry
// on 127.0.0.1) until it receives SIGINT or SIGTERM.
//
//	go run ./bench/cmd/world -dir DIR -n 200
//
// Into DIR it writes, besides the world's own files (trusted_root.json,
// repo/, evidence-auditd.yaml):
//
//	pointers.txt  one line per pointer: REGISTRY/REPO@DIGEST IDENTITY ISSUER
//	bundles/      each pointer's Sigstore bundle v0.3 (NNNNNN.json), as attached
//	world.env     shell assignments: AS_OF, CONFIG, TRUSTED_ROOT, REKOR_URL,
//	              REGISTRY, PREDICATE_TYPE, N, PID
//	ready         written last, once everything above is in place
//
// With -registry HOST:PORT (a registry already running on loopback, e.g.
// Debian's docker-registry), every summary bundle and its signature are
// copied there (digest-preserving, with the sha256-<hex> tag index of its
// referrers, which needs -referrers-api=false), the repository is
// regenerated with pointers naming that registry, and the configuration
// reaches it over plain http: the audit then never touches the in-process
// registry.
//
// It is a benchmark tool, not product code: it lives under bench/ so that
// the product never links it.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"

	"github.com/evidence-auditd/evidence-auditd/internal/sandbox"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/gitrepo"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox/publish"
)

func main() {
	dir := flag.String("dir", "", "world directory (created; required)")
	n := flag.Int("n", 200, "number of pointers")
	referrers := flag.Bool("referrers-api", true, "serve the OCI 1.1 Referrers API (false: sha256-<hex> tag schema only)")
	leafReuse := flag.Duration("leaf-reuse", 0, "share leaf certificates within this signing window (0: a fresh certificate per signature, as Fulcio)")
	external := flag.String("registry", "", "copy the world to this registry (host:port on loopback, plain http) and point everything at it")
	flag.Parse()
	if *dir == "" || *n < 1 || (*external != "" && *referrers) {
		if *external != "" && *referrers {
			fmt.Fprintln(os.Stderr, "world: -registry needs -referrers-api=false (the copy carries the sha256-<hex> tag indexes)")
		}
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*dir, *n, *referrers, *leafReuse, *external); err != nil {
		log.Fatalf("world: %v", err)
	}
}

func run(dir string, n int, referrers bool, leafReuse time.Duration, external string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	now := time.Now().UTC().Truncate(time.Second)
	opts := []sandbox.Option{sandbox.WithReferrersAPI(referrers)}
	if leafReuse > 0 {
		opts = append(opts, sandbox.WithLeafReuse(leafReuse))
	}
	w := sandbox.New(dir, opts...)
	if err := w.Start(ctx); err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = w.Close(cctx)
	}()
	t0 := time.Now()
	built, err := w.Build(ctx, sandbox.ScaleCases(n, now))
	if err != nil {
		return err
	}
	if err := w.WriteConfig(w.ConfigPath()); err != nil {
		return err
	}
	registryHost := w.RegistryHost()
	if external != "" {
		if err := moveTo(w, built, external); err != nil {
			return fmt.Errorf("copy to %s: %w", external, err)
		}
		registryHost = external
	}

	bdir := filepath.Join(dir, "bundles")
	if err := os.MkdirAll(bdir, 0o755); err != nil {
		return err
	}
	var lines strings.Builder
	for i, p := range built.Pointers {
		if p.Bundle == nil {
			return fmt.Errorf("pointer %s has no v0.3 bundle", p.Case.Name)
		}
		fmt.Fprintf(&lines, "%s@%s %s %s\n", untag(p.OCI), p.Digest, p.Case.Signer.Identity, p.Case.Signer.Issuer)
		if err := os.WriteFile(filepath.Join(bdir, fmt.Sprintf("%06d.json", i)), p.Bundle, 0o644); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "pointers.txt"), []byte(lines.String()), 0o644); err != nil {
		return err
	}
	env := fmt.Sprintf("AS_OF=%s\nCONFIG=%s\nTRUSTED_ROOT=%s\nREKOR_URL=%s\nREGISTRY=%s\nPREDICATE_TYPE=%s\nN=%d\nPID=%d\n",
		now.Format(time.RFC3339), w.ConfigPath(), w.TrustedRootPath(), w.LogURL(), registryHost,
		publish.PredicateV3, n, os.Getpid())
	if err := os.WriteFile(filepath.Join(dir, "world.env"), []byte(env), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "ready"), nil, 0o644); err != nil {
		return err
	}
	out := bufio.NewWriter(os.Stderr)
	fmt.Fprintf(out, "world: %d pointers built in %s; registry %s, log %s; serving until SIGTERM\n",
		n, time.Since(t0).Round(time.Millisecond), registryHost, w.LogURL())
	out.Flush()
	<-ctx.Done() // a signal: stop serving (the deferred Close)
	return nil
}

// untag drops the tag from "host:port/repo:tag", keeping "host:port/repo".
func untag(ref string) string {
	slash := strings.LastIndex(ref, "/")
	if colon := strings.LastIndex(ref, ":"); colon > slash {
		return ref[:colon]
	}
	return ref
}

// moveTo copies every summary bundle of built, with its referrers' tag
// index, from the world's registry to host, regenerates the repository with
// pointers naming host, and points the configuration's plain-http host at
// it. Each pointer's Content and OCI in built are rewritten to match.
func moveTo(w *sandbox.World, built *sandbox.Built, host string) error {
	from := w.RegistryHost()
	var merges []gitrepo.PointerMerge
	for i := range built.Pointers {
		p := &built.Pointers[i]
		src := untag(p.OCI)
		dst := host + strings.TrimPrefix(src, from)
		if err := crane.Copy(p.OCI, host+strings.TrimPrefix(p.OCI, from), crane.Insecure); err != nil {
			return err
		}
		if p.LogIndex >= 0 {
			tag := ":" + strings.Replace(p.Digest, ":", "-", 1)
			if err := crane.Copy(src+tag, dst+tag, crane.Insecure); err != nil {
				return fmt.Errorf("referrers of %s: %w", p.Digest, err)
			}
		}
		p.OCI = host + strings.TrimPrefix(p.OCI, from)
		p.Content = bytes.ReplaceAll(p.Content, []byte(from+"/"), []byte(host+"/"))
		merges = append(merges, gitrepo.PointerMerge{Path: p.Path, Content: p.Content, MergedAt: p.MergedAt})
	}
	sort.SliceStable(merges, func(a, b int) bool { return merges[a].MergedAt.Before(merges[b].MergedAt) })
	if err := os.RemoveAll(w.RepoDir()); err != nil {
		return err
	}
	if _, err := gitrepo.Generate(w.RepoDir(), gitrepo.Scenario{Pointers: merges}); err != nil {
		return err
	}
	cfg, err := os.ReadFile(w.ConfigPath())
	if err != nil {
		return err
	}
	if !bytes.Contains(cfg, []byte(from)) {
		return fmt.Errorf("%s does not name %s", w.ConfigPath(), from)
	}
	return os.WriteFile(w.ConfigPath(), bytes.ReplaceAll(cfg, []byte(from), []byte(host)), 0o644)
}
