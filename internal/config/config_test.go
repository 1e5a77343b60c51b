package config_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/config"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultsFinalize(t *testing.T) {
	cfg, err := config.Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Finalize(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	if got, want := cfg.Ledger.Path, "evidence-auditd.db"; got != want {
		t.Errorf("ledger.path = %q, want %q", got, want)
	}
	if got, want := cfg.Policy.DeepEvery.String(), "90d"; got != want {
		t.Errorf("policy.deepEvery = %q, want %q", got, want)
	}
	if got, want := cfg.Issues.Sink, "file"; got != want {
		t.Errorf("issues.sink = %q, want %q", got, want)
	}
	if err := cfg.RequireRepo(); err == nil {
		t.Error("RequireRepo with no repo: got nil error")
	}
}

func TestFileOverridesAndRelativePaths(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "c.yaml", `
repo:
  path: aicr
  ref: release
dataDir: data
policy:
  warnAfterMonths: 11
  expireAfterMonths: 12
  deepEvery: 30d
registry:
  plainHTTP: ["127.0.0.1:5000"]
  timeout: 5s
`)
	cfg, err := config.Load(p, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Finalize(); err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Repo.Path, filepath.Join(dir, "aicr"); got != want {
		t.Errorf("repo.path = %q, want %q", got, want)
	}
	if got, want := cfg.Ledger.Path, filepath.Join(dir, "data", "evidence-auditd.db"); got != want {
		t.Errorf("ledger.path = %q, want %q", got, want)
	}
	if got, want := time.Duration(cfg.Policy.DeepEvery), 30*24*time.Hour; got != want {
		t.Errorf("deepEvery = %v, want %v", got, want)
	}
	if got, want := time.Duration(cfg.Registry.Timeout), 5*time.Second; got != want {
		t.Errorf("timeout = %v, want %v", got, want)
	}
	if got, want := cfg.Repo.Ref, "release"; got != want {
		t.Errorf("ref = %q, want %q", got, want)
	}
}

func TestEnvOverridesFile(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "c.yaml", "registry:\n  concurrency: 4\n")
	cfg, err := config.Load(p, env(map[string]string{
		"EVIDENCE_AUDITD_REGISTRY_CONCURRENCY":            "2",
		"EVIDENCE_AUDITD_REGISTRY_PLAIN_HTTP":             "a:1, b:2",
		"EVIDENCE_AUDITD_POLICY_DEEP_EVERY":               "7d",
		"EVIDENCE_AUDITD_ISSUES_SINK":                     "none",
		"EVIDENCE_AUDITD_REGISTRY_ALLOW_PRIVATE_NETWORKS": "true",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Registry.Concurrency, 2; got != want {
		t.Errorf("concurrency = %d, want %d", got, want)
	}
	if got, want := strings.Join(cfg.Registry.PlainHTTP, "|"), "a:1|b:2"; got != want {
		t.Errorf("plainHTTP = %q, want %q", got, want)
	}
	if got, want := cfg.Policy.DeepEvery.String(), "7d"; got != want {
		t.Errorf("deepEvery = %q, want %q", got, want)
	}
	if !cfg.Registry.AllowPrivateNetworks || cfg.Issues.Sink != "none" {
		t.Errorf("bool/string env not applied: %+v %q", cfg.Registry.AllowPrivateNetworks, cfg.Issues.Sink)
	}
}

func TestConfigFileFromEnv(t *testing.T) {
	p := writeFile(t, t.TempDir(), "c.yaml", "listen: 127.0.0.1:1\n")
	cfg, err := config.Load("", env(map[string]string{"EVIDENCE_AUDITD_CONFIG": p}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Listen, "127.0.0.1:1"; got != want {
		t.Errorf("listen = %q, want %q", got, want)
	}
	if cfg.Source != p {
		t.Errorf("Source = %q, want %q", cfg.Source, p)
	}
}

func TestFileErrorsNameTheKey(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"unknown top-level", "repos: {}\n", `unknown key "repos"`},
		{"unknown nested", "registry:\n  timeuot: 3s\n", `unknown key "registry.timeuot"`},
		{"secret in body", "issues:\n  github:\n    token: ghp_x\n", "issues.github.token: secrets are not accepted"},
		{"bad duration", "policy:\n  deepEvery: soon\n", `invalid duration "soon"`},
		{"bad type", "policy:\n  warnAfterMonths: many\n", "warnAfterMonths"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), "c.yaml", tt.body)
			_, err := config.Load(p, env(nil))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "ghp_x") {
				t.Errorf("error leaks the secret: %v", err)
			}
		})
	}
}

func TestValidateNamesFields(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*config.Config)
		key    string
	}{
		{"warn after expire", func(c *config.Config) { c.Policy.WarnAfterMonths = 30 }, "policy.warnAfterMonths"},
		{"bad schedule", func(c *config.Config) { c.Schedule = "every tuesday" }, "schedule"},
		{"bad sink", func(c *config.Config) { c.Issues.Sink = "email" }, "issues.sink"},
		{"github without repo", func(c *config.Config) { c.Issues.Sink = "github" }, "issues.github"},
		{"zero concurrency", func(c *config.Config) { c.Registry.Concurrency = 0 }, "registry.concurrency"},
		{"escaping evidence dir", func(c *config.Config) { c.Repo.EvidenceDir = "../x" }, "repo.evidenceDir"},
		{"both repo sources", func(c *config.Config) { c.Repo.Path, c.Repo.URL = "/a", "https://x/y.git" }, "repo"},
		{"bad listen", func(c *config.Config) { c.Listen = "9464" }, "listen"},
		{"bad rekor", func(c *config.Config) { c.Rekor.URL = "rekor" }, "rekor.url"},
		{"heartbeat not http", func(c *config.Config) { c.HeartbeatURL = "ftp://hc.example/ping" }, "heartbeatURL"},
		{"heartbeat no host", func(c *config.Config) { c.HeartbeatURL = "https:///ping" }, "heartbeatURL"},
		{"zero grace", func(c *config.Config) { c.ShutdownGrace = 0 }, "shutdownGrace"},
		{"grace too long", func(c *config.Config) { c.ShutdownGrace = config.Duration(2 * time.Hour) }, "shutdownGrace"},
		{"tiny memory budget", func(c *config.Config) { c.MemoryBudget = 4096 }, "memoryBudget"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config.Default()
			tt.mutate(c)
			err := c.Finalize()
			var fe *config.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, want a *FieldError", err)
			}
			if fe.Key != tt.key {
				t.Errorf("key = %q, want %q (%v)", fe.Key, tt.key, err)
			}
		})
	}
}

// memoryBudget defaults to 128 MiB, is read from the environment like any
// key, and the runtime's soft limit follows it.
func TestMemoryBudget(t *testing.T) {
	if got := config.Default().MemoryBudget; got != 128<<20 {
		t.Errorf("default %d, want 128 MiB", got)
	}
	cfg, err := config.Load("", env(map[string]string{"EVIDENCE_AUDITD_MEMORY_BUDGET": "67108864"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Finalize(); err != nil {
		t.Fatal(err)
	}
	if cfg.MemoryBudget != 64<<20 || cfg.MemoryLimit() != 96<<20 {
		t.Errorf("budget %d, limit %d: want 64 MiB and 96 MiB", cfg.MemoryBudget, cfg.MemoryLimit())
	}
}

func TestDaemonKeys(t *testing.T) {
	cfg, err := config.Load("", env(map[string]string{
		"EVIDENCE_AUDITD_HEARTBEAT_URL":  "https://hc.example/ping/abc",
		"EVIDENCE_AUDITD_SHUTDOWN_GRACE": "45s",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Finalize(); err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.HeartbeatURL, "https://hc.example/ping/abc"; got != want {
		t.Errorf("heartbeatURL = %q, want %q", got, want)
	}
	if got, want := time.Duration(cfg.ShutdownGrace), 45*time.Second; got != want {
		t.Errorf("shutdownGrace = %v, want %v", got, want)
	}
	if got, want := time.Duration(config.Default().ShutdownGrace), 30*time.Second; got != want {
		t.Errorf("default shutdownGrace = %v, want %v", got, want)
	}
}

// TestScheduleRejectsSpinsAndNevers: a schedule that never fires or an
// @every interval that is not positive is a configuration error (SPEC §4)
// naming the key.
func TestScheduleRejectsSpinsAndNevers(t *testing.T) {
	for spec, want := range map[string]string{
		"0 3 31 2 *":                "never fires",
		"CRON_TZ=UTC 0 0 30 2 *":    "never fires",
		"@every 0s":                 "positive",
		"@every -5m":                "positive",
		"TZ=Europe/Berlin @every 0": "positive",
	} {
		c := config.Default()
		c.Schedule = spec
		err := c.Finalize()
		if err == nil || !strings.Contains(err.Error(), "schedule:") || !strings.Contains(err.Error(), want) {
			t.Errorf("schedule %q: err = %v, want a schedule error saying %q", spec, err, want)
		}
	}
}

func TestScheduleDescriptors(t *testing.T) {
	for _, s := range []string{"@weekly", "@every 24h", "CRON_TZ=Europe/Berlin 0 3 * * 1", "0 3 1 1,7 *"} {
		c := config.Default()
		c.Schedule = s
		if err := c.Finalize(); err != nil {
			t.Errorf("schedule %q rejected: %v", s, err)
		}
	}
}

func TestTokenSources(t *testing.T) {
	cfg, err := config.Load("", env(map[string]string{"GITHUB_TOKEN": "ghp_fallback", "EVIDENCE_AUDITD_GITHUB_TOKEN": "ghp_primary"}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.GitHubToken.Reveal(), "ghp_primary"; got != want {
		t.Errorf("token = %q, want %q", got, want)
	}
	if s := fmt.Sprintf("%v %+v %#v %s", cfg.GitHubToken, *cfg, cfg.GitHubToken, cfg.GitHubToken); strings.Contains(s, "ghp_") {
		t.Errorf("formatting leaks the token: %s", s)
	}

	dir := t.TempDir()
	tf := writeFile(t, dir, "token", "ghp_fromfile\n")
	p := writeFile(t, dir, "c.yaml", "issues:\n  github:\n    tokenFile: token\n")
	cfg, err = config.Load(p, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.GitHubToken.Reveal(), "ghp_fromfile"; got != want {
		t.Errorf("token from %s = %q, want %q", tf, got, want)
	}
}

func TestEnvVarsCoverEveryKey(t *testing.T) {
	names := map[string]string{}
	for _, v := range config.EnvVars() {
		names[v.Key] = v.Name
	}
	for key, want := range map[string]string{
		"repo.evidenceDir":              "EVIDENCE_AUDITD_REPO_EVIDENCE_DIR",
		"registry.plainHTTP":            "EVIDENCE_AUDITD_REGISTRY_PLAIN_HTTP",
		"issues.github.apiURL":          "EVIDENCE_AUDITD_ISSUES_GITHUB_API_URL",
		"policy.warnAfterMonths":        "EVIDENCE_AUDITD_POLICY_WARN_AFTER_MONTHS",
		"registry.allowPrivateNetworks": "EVIDENCE_AUDITD_REGISTRY_ALLOW_PRIVATE_NETWORKS",
	} {
		if got := names[key]; got != want {
			t.Errorf("env for %s = %q, want %q", key, got, want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"90d": 90 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "30s": 30 * time.Second, "1h30m": 90 * time.Minute} {
		got, err := config.ParseDuration(in)
		if err != nil || time.Duration(got) != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "-3d", "1.5d", "soon"} {
		if _, err := config.ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q): got nil error", in)
		}
	}
}

func TestUnknownEnv(t *testing.T) {
	got := config.UnknownEnv([]string{
		"EVIDENCE_AUDITD_REGISTRY_TIMEUOT=10s",
		"EVIDENCE_AUDITD_REGISTRY_TIMEOUT=10s",             // known
		"EVIDENCE_AUDITD_GITHUB_TOKEN=ghp_secret",          // known, not a key
		"EVIDENCE_AUDITD_E2E_REKOR_URL=http://127.0.0.1:1", // the test suites'
		"EVIDENCE_AUDITD_NOTHING_LIKE_IT=ghp_secret2",
		"PATH=/bin",
	})
	want := []string{
		"unknown environment variable EVIDENCE_AUDITD_REGISTRY_TIMEUOT is ignored (did you mean EVIDENCE_AUDITD_REGISTRY_TIMEOUT?)",
		"unknown environment variable EVIDENCE_AUDITD_NOTHING_LIKE_IT is ignored",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("UnknownEnv =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if strings.Contains(strings.Join(got, ""), "ghp_secret") {
		t.Error("a warning shows a variable's value")
	}
}

// TestArchiveKeys: the archive is on by default, in <dataDir>/archive; a
// relative archive.dir resolves against the file; archive.url must be
// REGISTRY/REPOSITORY; everything has a variable.
func TestArchiveKeys(t *testing.T) {
	cfg, err := config.Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = "/var/lib/x"
	if err := cfg.Finalize(); err != nil {
		t.Fatal(err)
	}
	if !cfg.Archive.Enabled || cfg.Archive.Dir != "/var/lib/x/archive" || cfg.Archive.URL != "" {
		t.Errorf("archive defaults %+v, want enabled in <dataDir>/archive", cfg.Archive)
	}
	dir := t.TempDir()
	p := writeFile(t, dir, "c.yaml", "archive:\n  enabled: false\n  dir: copies\n")
	if cfg, err = config.Load(p, env(map[string]string{"EVIDENCE_AUDITD_ARCHIVE_URL": "registry.example:5000/aicr/archive"})); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Finalize(); err != nil {
		t.Fatal(err)
	}
	if cfg.Archive.Enabled || cfg.Archive.Dir != filepath.Join(dir, "copies") || cfg.Archive.URL != "registry.example:5000/aicr/archive" {
		t.Errorf("archive %+v, want disabled, dir beside the file, url from the environment", cfg.Archive)
	}
	for _, bad := range []string{"https://registry.example/x", "registry.example", "aicr/archive", "registry.example/x@sha256:ab", "reg.example/a b"} {
		cfg, _ := config.Load("", env(nil))
		cfg.Archive.URL = bad
		if err := cfg.Finalize(); err == nil || !strings.Contains(err.Error(), "archive.url") {
			t.Errorf("archive.url %q: %v, want an error naming archive.url", bad, err)
		}
	}
}
