package sandbox_test

import (
	"path/filepath"
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/config"
	"github.com/evidence-auditd/evidence-auditd/internal/sandbox"
)

func noEnv(string) string { return "" }

func TestWriteConfigLoads(t *testing.T) {
	w := startWorld(t)
	abs := func(p string) string {
		t.Helper()
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	for _, tt := range []struct {
		name string
		path string
		opts []sandbox.ConfigOption
		data string // resolved dataDir
	}{
		{"beside the world", w.ConfigPath(), nil, w.Dir()},
		{"elsewhere, with a data dir", filepath.Join(t.TempDir(), "c.yaml"), []sandbox.ConfigOption{sandbox.ConfigDataDir("state"), sandbox.ConfigConcurrency(4)}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := w.WriteConfig(tt.path, tt.opts...); err != nil {
				t.Fatalf("WriteConfig: %v", err)
			}
			cfg, err := config.Load(tt.path, noEnv)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if err := cfg.Finalize(); err != nil {
				t.Fatalf("Finalize: %v", err)
			}
			base := filepath.Dir(abs(tt.path))
			data := tt.data
			if data == "" {
				data = filepath.Join(base, "state")
			}
			for _, f := range []struct{ key, got, want string }{
				{"repo.path", cfg.Repo.Path, abs(w.RepoDir())},
				{"repo.ref", cfg.Repo.Ref, "main"},
				{"dataDir", cfg.DataDir, abs(data)},
				{"ledger.path", cfg.Ledger.Path, filepath.Join(base, "evidence-auditd.db")},
				{"trust.trustedRoot", cfg.Trust.TrustedRoot, abs(w.TrustedRootPath())},
				{"rekor.url", cfg.Rekor.URL, w.LogURL()},
				{"issues.sink", cfg.Issues.Sink, "file"},
				{"issues.dir", cfg.Issues.Dir, filepath.Join(base, "issues")},
			} {
				if f.got != f.want {
					t.Errorf("%s = %q, want %q", f.key, f.got, f.want)
				}
			}
			if len(cfg.Registry.PlainHTTP) != 1 || cfg.Registry.PlainHTTP[0] != w.RegistryHost() || !cfg.Registry.AllowPrivateNetworks {
				t.Errorf("registry = %+v, want plainHTTP [%s] and private networks allowed", cfg.Registry, w.RegistryHost())
			}
		})
	}

	if err := sandbox.New(t.TempDir()).WriteConfig(filepath.Join(t.TempDir(), "c.yaml")); err == nil {
		t.Error("WriteConfig of an unstarted world succeeded")
	}
}
