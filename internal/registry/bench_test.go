package registry_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	ggcr "github.com/google/go-containerregistry/pkg/registry"

	"github.com/evidence-auditd/evidence-auditd/internal/registry"
)

// serveEnv makes the test binary serve an in-process registry instead of
// running tests, so that benchmarks can measure the client's CPU alone.
const serveEnv = "EVIDENCE_AUDITD_REGISTRY_TEST_SERVE"

func TestMain(m *testing.M) {
	if mode := os.Getenv(serveEnv); mode != "" {
		serveRegistry(mode == "referrers")
		return
	}
	os.Exit(m.Run())
}

// serveRegistry prints its address and serves until stdin closes.
func serveRegistry(referrers bool) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr())
	srv := &http.Server{Handler: ggcr.New(ggcr.Logger(nilLogger()), ggcr.WithReferrersSupport(referrers)), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	io.Copy(io.Discard, os.Stdin)
}

// childRegistry starts a registry in a child process and returns a world
// whose faults are not wired (they live in the child).
func childRegistry(tb testing.TB, referrers bool) *world {
	tb.Helper()
	cmd := exec.Command(os.Args[0])
	mode := "plain"
	if referrers {
		mode = "referrers"
	}
	cmd.Env = append(os.Environ(), serveEnv+"="+mode)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		tb.Fatalf("child registry: %v", err)
	}
	return &world{host: strings.TrimSpace(addr), faults: &faults{}}
}

// realisticBundle is a summary layer of about the size AICR produces.
func realisticBundle() []tarEntry {
	text := func(n int, seed string) string {
		var sb strings.Builder
		for i := 0; sb.Len() < n; i++ {
			fmt.Fprintf(&sb, "%s-%d: value %x\n", seed, i, i*2654435761)
		}
		return sb.String()
	}
	return []tarEntry{
		{name: "recipe.yaml", body: text(2<<10, "recipe")},
		{name: "snapshot.yaml", body: text(20<<10, "snapshot")},
		{name: "bom.cdx.json", body: text(50<<10, "component")},
		{name: "ctrf/deployment.json", body: text(10<<10, "deployment")},
		{name: "ctrf/performance.json", body: text(10<<10, "performance")},
		{name: "ctrf/conformance.json", body: text(10<<10, "conformance")},
		{name: "manifest.json", body: text(1<<10, "file")},
		{name: "statement.intoto.json", body: text(2<<10, "statement")},
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchWorlds runs fn against the registry in this process (ns/op then
// includes the registry's own CPU) and in a child process (cpu-ms/op is
// then the client's alone).
func benchWorlds(b *testing.B, referrers bool, fn func(b *testing.B, w *world, c *registry.Client)) {
	for _, where := range []string{"in-process", "child-process"} {
		b.Run(where, func(b *testing.B) {
			var w *world
			if where == "in-process" {
				w = newWorld(b, referrers)
			} else {
				w = childRegistry(b, referrers)
			}
			c, _ := w.client(b)
			fn(b, w, c)
		})
	}
}

func measure(b *testing.B, op func() error) {
	if err := op(); err != nil { // warm: ping, token, connections
		b.Fatal(err)
	}
	b.ReportAllocs()
	n := 0
	start := cpuTime()
	for b.Loop() {
		if err := op(); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(time.Millisecond)/float64(n), "cpu-ms/op")
}

func BenchmarkFetchSummary(b *testing.B) {
	benchWorlds(b, true, func(b *testing.B, w *world, c *registry.Client) {
		p := w.pushSummary(b, "evidence/bench", "v1", realisticBundle()...)
		b.SetBytes(int64(len(p.layer)))
		measure(b, func() error {
			_, err := c.FetchSummary(context.Background(), w.host+"/evidence/bench:v1", p.digest)
			return err
		})
	})
}

func BenchmarkFindSigstoreBundle(b *testing.B) {
	for _, referrers := range []bool{true, false} {
		b.Run(fmt.Sprintf("referrers=%v", referrers), func(b *testing.B) {
			benchWorlds(b, referrers, func(b *testing.B, w *world, c *registry.Client) {
				p := w.pushSummary(b, "evidence/bench", "v1", realisticBundle()...)
				w.pushReferrer(b, "evidence/bench", p.desc, bundleV03,
					map[string]string{registry.AnnotationCreated: "2026-07-21T19:46:00Z"},
					[2]string{bundleV03, strings.Repeat(`{"x":"bundle"}`, 400)})
				measure(b, func() error {
					_, err := c.FindSigstoreBundle(context.Background(), w.host+"/evidence/bench", p.digest)
					return err
				})
			})
		})
	}
}

func BenchmarkProbe(b *testing.B) {
	benchWorlds(b, true, func(b *testing.B, w *world, c *registry.Client) {
		p := w.pushSummary(b, "evidence/bench", "v1", realisticBundle()...)
		sig := w.pushReferrer(b, "evidence/bench", p.desc, bundleV03, nil, [2]string{bundleV03, `{}`})
		measure(b, func() error {
			return c.Probe(context.Background(), w.host+"/evidence/bench", p.digest, p.layerDigest, sig)
		})
	})
}

func BenchmarkExtractLayer(b *testing.B) {
	layer := tarGz(b, realisticBundle()...)
	b.SetBytes(int64(len(layer)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := registry.ExtractLayer(strings.NewReader(string(layer)), registry.TarLimits{}); err != nil {
			b.Fatal(err)
		}
	}
}
