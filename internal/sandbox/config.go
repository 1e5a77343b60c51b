package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"

	"go.yaml.in/yaml/v3"

	"github.com/evidence-auditd/evidence-auditd/internal/atomicfile"
)

// ConfigOption adjusts the configuration WriteConfig writes.
type ConfigOption func(*fileConfig)

// ConfigDataDir sets dataDir (default: the configuration file's directory).
// A relative path is relative to the configuration file's directory.
func ConfigDataDir(dir string) ConfigOption { return func(c *fileConfig) { c.DataDir = dir } }

// ConfigLedger sets ledger.path (default "evidence-auditd.db" beside the
// configuration file).
func ConfigLedger(path string) ConfigOption { return func(c *fileConfig) { c.Ledger.Path = path } }

// ConfigIssuesDir sets issues.dir of the file sink (default "issues" beside
// the configuration file).
func ConfigIssuesDir(dir string) ConfigOption { return func(c *fileConfig) { c.Issues.Dir = dir } }

// ConfigConcurrency sets registry.concurrency.
func ConfigConcurrency(n int) ConfigOption {
	return func(c *fileConfig) { c.Registry.Concurrency = n }
}

// ConfigListen sets listen, the address of serve's HTTP endpoints.
func ConfigListen(addr string) ConfigOption { return func(c *fileConfig) { c.Listen = addr } }

// ConfigSchedule sets schedule, serve's cron specification.
func ConfigSchedule(spec string) ConfigOption { return func(c *fileConfig) { c.Schedule = spec } }

// fileConfig mirrors the keys of internal/config that a sandbox
// configuration sets; the rest keep their defaults.
type fileConfig struct {
	Repo struct {
		Path string `yaml:"path"`
		Ref  string `yaml:"ref"`
	} `yaml:"repo"`
	DataDir string `yaml:"dataDir"`
	Ledger  struct {
		Path string `yaml:"path"`
	} `yaml:"ledger"`
	Schedule string `yaml:"schedule,omitempty"`
	Trust    struct {
		TrustedRoot string `yaml:"trustedRoot"`
	} `yaml:"trust"`
	Rekor struct {
		URL string `yaml:"url"`
	} `yaml:"rekor"`
	Registry struct {
		PlainHTTP            []string `yaml:"plainHTTP"`
		AllowPrivateNetworks bool     `yaml:"allowPrivateNetworks"`
		Concurrency          int      `yaml:"concurrency,omitempty"`
	} `yaml:"registry"`
	Issues struct {
		Sink string `yaml:"sink"`
		Dir  string `yaml:"dir"`
	} `yaml:"issues"`
	Listen string `yaml:"listen,omitempty"`
}

// WriteConfig atomically writes an evidence-auditd configuration for this
// world to path (usually ConfigPath): the repository under RepoDir on
// branch main, the trusted root, the log's URL as rekor.url, the registry
// reached over plain HTTP on loopback, the ledger and the file issue sink
// beside the file. Paths are written relative to path's directory when they
// lie beneath it, so the directory can be moved as a whole. The world must
// be started: the configuration names its ports, which live only as long as
// the world does.
func (w *World) WriteConfig(path string, opts ...ConfigOption) error {
	if w.RegistryHost() == "" || w.LogURL() == "" {
		return errors.New("write sandbox config: world not started")
	}
	base, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("write sandbox config: %w", err)
	}
	rel := func(p string) string {
		abs, err := filepath.Abs(p)
		if err != nil {
			return p
		}
		if r, err := filepath.Rel(base, abs); err == nil && filepath.IsLocal(r) {
			return filepath.ToSlash(r)
		}
		return abs
	}
	var c fileConfig
	c.Repo.Path = rel(w.RepoDir())
	c.Repo.Ref = "main"
	c.DataDir = "."
	c.Ledger.Path = "evidence-auditd.db"
	c.Trust.TrustedRoot = rel(w.TrustedRootPath())
	c.Rekor.URL = w.LogURL()
	c.Registry.PlainHTTP = []string{w.RegistryHost()}
	c.Registry.AllowPrivateNetworks = true
	c.Issues.Sink = "file"
	c.Issues.Dir = "issues"
	for _, o := range opts {
		o(&c)
	}

	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# evidence-auditd configuration for the sandbox world in %s.\n", base)
	buf.WriteString("# The registry and the transparency log named here live only while the\n")
	buf.WriteString("# world that wrote this file runs (`evidence-auditd demo --keep-running`).\n")
	buf.WriteString("# Relative paths are relative to this file's directory.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&c); err != nil {
		return fmt.Errorf("write sandbox config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("write sandbox config: %w", err)
	}
	if err := atomicfile.WriteBytes(path, 0o644, buf.Bytes()); err != nil {
		return fmt.Errorf("write sandbox config: %w", err)
	}
	return nil
}
