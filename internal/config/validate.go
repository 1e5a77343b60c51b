package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// FieldError is a configuration problem tied to one key.
type FieldError struct {
	Key    string // dotted key path, e.g. "policy.warnAfterMonths"
	Detail string
}

func (e *FieldError) Error() string { return e.Key + ": " + e.Detail }

// CronParser is the schedule syntax: five fields, or a descriptor such as
// @weekly or "@every 24h", with an optional CRON_TZ= prefix.
var CronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule parses spec (CronParser syntax) and refuses what would make
// the daemon spin or sleep forever (SPEC §4): an @every interval that is
// not positive (robfig/cron would silently round it up to one second), and
// a schedule with no time after now within the parser's five-year horizon
// ("0 3 31 2 *": February has no 31st).
func ParseSchedule(spec string, now time.Time) (cron.Schedule, error) {
	sched, err := CronParser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", spec, err)
	}
	body := strings.TrimSpace(spec)
	if strings.HasPrefix(body, "CRON_TZ=") || strings.HasPrefix(body, "TZ=") {
		if i := strings.IndexByte(body, ' '); i > 0 {
			body = strings.TrimSpace(body[i:])
		}
	}
	if every, ok := strings.CutPrefix(body, "@every "); ok {
		d, err := time.ParseDuration(strings.TrimSpace(every))
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("%q: the @every interval must be a positive duration", spec)
		}
	}
	if sched.Next(now).IsZero() {
		return nil, fmt.Errorf("%q never fires (no matching time in the next five years)", spec)
	}
	return sched, nil
}

// Finalize fills the defaults that derive from other keys (ledger.path,
// issues.dir and archive.dir from dataDir) and validates everything, returning every problem
// at once, each naming its key.
func (c *Config) Finalize() error {
	if c.DataDir == "" {
		c.DataDir = "."
	}
	if c.Ledger.Path == "" {
		c.Ledger.Path = filepath.Join(c.DataDir, "evidence-auditd.db")
	}
	if c.Issues.Dir == "" {
		c.Issues.Dir = filepath.Join(c.DataDir, "issues")
	}
	if c.Archive.Dir == "" {
		c.Archive.Dir = filepath.Join(c.DataDir, "archive")
	}
	if c.Anchor.Dir == "" && c.Ledger.Path != "" {
		c.Anchor.Dir = c.Ledger.Path + ".anchors"
	}
	return c.Validate()
}

// Validate checks every key and returns all problems joined.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &FieldError{Key: key, Detail: fmt.Sprintf(format, args...)})
	}

	if c.Repo.Path != "" && c.Repo.URL != "" {
		bad("repo", "set repo.path or repo.url, not both")
	}
	if c.Repo.URL != "" {
		if u, err := url.Parse(c.Repo.URL); err != nil || u.Scheme == "" {
			bad("repo.url", "%q is not a URL (want https://…, ssh://… or file://…)", c.Repo.URL)
		}
	}
	if strings.TrimSpace(c.Repo.Ref) == "" {
		bad("repo.ref", "must name a branch, e.g. main")
	}
	for key, dir := range map[string]string{"repo.evidenceDir": c.Repo.EvidenceDir, "repo.overlaysDir": c.Repo.OverlaysDir} {
		if dir == "" || path.IsAbs(dir) || path.Clean(dir) != dir || strings.HasPrefix(dir, "..") {
			bad(key, "%q must be a clean, repository-relative, slash-separated path", dir)
		}
	}
	if c.Ledger.Path == "" {
		bad("ledger.path", "must not be empty")
	}
	if _, err := ParseSchedule(c.Schedule, time.Now()); err != nil {
		bad("schedule", "%v (examples: \"0 3 1 1,4,7,10 *\", @weekly, \"@every 24h\")", err)
	}
	if c.Policy.WarnAfterMonths < 1 || c.Policy.WarnAfterMonths > 1200 {
		bad("policy.warnAfterMonths", "%d is out of range 1..1200", c.Policy.WarnAfterMonths)
	}
	if c.Policy.ExpireAfterMonths < 1 || c.Policy.ExpireAfterMonths > 1200 {
		bad("policy.expireAfterMonths", "%d is out of range 1..1200", c.Policy.ExpireAfterMonths)
	}
	if c.Policy.WarnAfterMonths > c.Policy.ExpireAfterMonths {
		bad("policy.warnAfterMonths", "%d must not exceed policy.expireAfterMonths (%d)", c.Policy.WarnAfterMonths, c.Policy.ExpireAfterMonths)
	}
	if c.Policy.DeepEvery < 0 {
		bad("policy.deepEvery", "must not be negative")
	}
	if u, err := url.Parse(c.Rekor.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("rekor.url", "%q is not an http(s) URL", c.Rekor.URL)
	}
	for i, h := range c.Registry.PlainHTTP {
		if h == "" || strings.ContainsAny(h, "/ ") {
			bad(fmt.Sprintf("registry.plainHTTP[%d]", i), "%q must be a host or host:port", h)
		}
	}
	for i, g := range c.Registry.Allow {
		if _, err := path.Match(g, ""); err != nil || g == "" {
			bad(fmt.Sprintf("registry.allow[%d]", i), "%q is not a valid host glob", g)
		}
	}
	if c.Registry.Concurrency < 1 || c.Registry.Concurrency > 256 {
		bad("registry.concurrency", "%d is out of range 1..256", c.Registry.Concurrency)
	}
	if c.Registry.Timeout <= 0 {
		bad("registry.timeout", "must be positive, e.g. 30s")
	}
	if c.Registry.MaxLayerBytes < 1<<10 {
		bad("registry.maxLayerBytes", "%d is too small (at least 1024)", c.Registry.MaxLayerBytes)
	}
	switch c.Issues.Sink {
	case "file":
		if c.Issues.Dir == "" {
			bad("issues.dir", "required for the file sink")
		}
	case "github":
		if c.Issues.GitHub.Owner == "" || c.Issues.GitHub.Repo == "" {
			bad("issues.github", "owner and repo are required for the github sink")
		}
	case "none":
	default:
		bad("issues.sink", "%q: want file, github or none", c.Issues.Sink)
	}
	if c.Issues.GitHub.APIURL != "" {
		if u, err := url.Parse(c.Issues.GitHub.APIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			bad("issues.github.apiURL", "%q is not an http(s) URL", c.Issues.GitHub.APIURL)
		}
	}
	if c.Issues.MaxPerRun < 0 {
		bad("issues.maxPerRun", "must not be negative")
	}
	if c.Issues.Labels.Recert == "" || c.Issues.Labels.Lost == "" {
		bad("issues.labels", "recert and lost labels must not be empty")
	}
	if u := c.Archive.URL; u != "" {
		host, repo, ok := strings.Cut(strings.TrimPrefix(u, "oci://"), "/")
		if !ok || host == "" || repo == "" || strings.Contains(u, "@") || strings.ContainsAny(u, " \t") || strings.Contains(strings.TrimPrefix(u, "oci://"), "://") ||
			!strings.ContainsAny(host, ".:") && host != "localhost" {
			bad("archive.url", "%q: want REGISTRY/REPOSITORY, e.g. registry.example/aicr-evidence-archive", u)
		}
	}
	if _, port, err := net.SplitHostPort(c.Listen); err != nil || !validPort(port) {
		bad("listen", "%q: want host:port with a port 0..65535, e.g. 127.0.0.1:9464", c.Listen)
	}
	if c.HeartbeatURL != "" {
		if u, err := url.Parse(c.HeartbeatURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("heartbeatURL", "%q is not an http(s) URL", c.HeartbeatURL)
		}
	}
	if c.MemoryBudget < 1<<20 {
		bad("memoryBudget", "%d bytes is too small (at least 1048576, 1 MiB)", c.MemoryBudget)
	}
	if c.ShutdownGrace < Duration(time.Second) || c.ShutdownGrace > Duration(time.Hour) {
		bad("shutdownGrace", "%s is out of range 1s..1h", c.ShutdownGrace)
	}
	for key, u := range map[string]string{"anchor.fulcioURL": c.Anchor.FulcioURL, "anchor.log": c.Anchor.Log, "anchor.timestampURL": c.Anchor.TimestampURL} {
		if u == "" {
			continue
		}
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			bad(key, "%q is not an http(s) URL", u)
		}
	}
	if c.Anchor.FulcioURL == "" {
		bad("anchor.fulcioURL", "must not be empty (default https://fulcio.sigstore.dev)")
	}
	if (c.Anchor.Identity == "") != (c.Anchor.Issuer == "") {
		bad("anchor.identity", "set anchor.identity and anchor.issuer together (the keyless signer anchors and reports must carry)")
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "%q: want text or json", c.Log.Format)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q: want debug, info, warn or error", c.Log.Level)
	}
	return errors.Join(errs...)
}

// RequireRepo reports a usage error when neither repo.path nor repo.url is set.
func (c *Config) RequireRepo() error {
	if c.Repo.Path == "" && c.Repo.URL == "" {
		return &FieldError{Key: "repo.path", Detail: "no repository to audit: pass --repo DIR, or set repo.path or repo.url in the configuration"}
	}
	return nil
}

// validPort reports whether p is a TCP port number (0 lets the system pick).
func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 0 && n <= 65535
}
