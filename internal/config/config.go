package config

import (
	"time"
)

// EnvPrefix prefixes every environment variable the program reads.
const EnvPrefix = "EVIDENCE_AUDITD_"

// Config is the whole, resolved configuration (SPEC §4). Every key is
// documented with its default in deploy/config.example.yaml.
type Config struct {
	Repo     Repo     `yaml:"repo"`
	DataDir  string   `yaml:"dataDir"`
	Ledger   Ledger   `yaml:"ledger"`
	Schedule string   `yaml:"schedule"`
	Policy   Policy   `yaml:"policy"`
	Trust    Trust    `yaml:"trust"`
	Rekor    Rekor    `yaml:"rekor"`
	Registry Registry `yaml:"registry"`
	Issues   Issues   `yaml:"issues"`
	Archive  Archive  `yaml:"archive"`
	Listen   string   `yaml:"listen"`
	Log      Log      `yaml:"log"`
	Anchor   Anchor   `yaml:"anchor"`

	// HeartbeatURL, when set, is fetched (GET) after each successful
	// scheduled run of `serve`, as a dead-man's switch: the monitor alerts
	// when the pings stop. Empty (the default) means no ping.
	HeartbeatURL string `yaml:"heartbeatURL"`
	// ShutdownGrace is how long `serve` lets an in-flight audit go on after
	// SIGTERM before canceling it; the process exits within it. Default 30s.
	ShutdownGrace Duration `yaml:"shutdownGrace"`
	// MemoryBudget is the bytes an audit run may hold of what registries and
	// transparency logs send it, shared by all its workers: response bodies
	// while they are read, and the summary files verification reads in full.
	// Work over the budget waits; one item larger than the whole budget runs
	// alone and is judged by its own limits. Default 128 MiB, sized with the
	// process's other needs for a peak RSS under 300 MiB (issue 15).
	MemoryBudget int64 `yaml:"memoryBudget"`

	// Source names where the configuration file came from ("" = none).
	Source string `yaml:"-"`
	// GitHubToken is the secret for the github sink, read from
	// EVIDENCE_AUDITD_GITHUB_TOKEN, GITHUB_TOKEN or issues.github.tokenFile.
	// It is never serialised.
	GitHubToken Secret `yaml:"-"`
}

// Repo says which repository and branch hold the merged evidence history.
type Repo struct {
	Path        string `yaml:"path"`        // local clone to audit
	URL         string `yaml:"url"`         // or a remote, cloned/fetched into DataDir
	Ref         string `yaml:"ref"`         // branch whose first-parent history is "merged history"
	EvidenceDir string `yaml:"evidenceDir"` // default recipes/evidence
	OverlaysDir string `yaml:"overlaysDir"` // default recipes/overlays
}

// Ledger locates the SQLite ledger.
type Ledger struct {
	Path string `yaml:"path"` // default <dataDir>/evidence-auditd.db
}

// Policy holds the re-certification and re-verification policy.
type Policy struct {
	WarnAfterMonths   int      `yaml:"warnAfterMonths"`   // default 23
	ExpireAfterMonths int      `yaml:"expireAfterMonths"` // default 24
	DeepEvery         Duration `yaml:"deepEvery"`         // default 90d
	// FailUnlisted makes a signer that the allowlist does not name an
	// invalid/identity finding. Default false: unlisted is reported only.
	FailUnlisted bool `yaml:"failUnlisted"`
}

// Trust selects the Sigstore trusted root.
type Trust struct {
	TrustedRoot string `yaml:"trustedRoot"` // path to trusted_root.json; empty = public-good
}

// Rekor configures the transparency-log fallback.
type Rekor struct {
	URL string `yaml:"url"` // Rekor v1 API
}

// Registry configures OCI access.
type Registry struct {
	PlainHTTP            []string `yaml:"plainHTTP"`
	AllowPrivateNetworks bool     `yaml:"allowPrivateNetworks"`
	Allow                []string `yaml:"allow"`
	Concurrency          int      `yaml:"concurrency"`
	Timeout              Duration `yaml:"timeout"`
	MaxLayerBytes        int64    `yaml:"maxLayerBytes"` // default 256 MiB
}

// Issues configures where re-certification issues go.
type Issues struct {
	Sink             string   `yaml:"sink"` // file | github | none
	Dir              string   `yaml:"dir"`  // file sink; default <dataDir>/issues
	GitHub           GitHub   `yaml:"github"`
	MaxPerRun        int      `yaml:"maxPerRun"`
	Labels           Labels   `yaml:"labels"`
	DefaultAssignees []string `yaml:"defaultAssignees"`
	DefaultTeam      string   `yaml:"defaultTeam"`
}

// GitHub names the tracker of the github sink.
type GitHub struct {
	Owner  string `yaml:"owner"`
	Repo   string `yaml:"repo"`
	APIURL string `yaml:"apiURL"` // GitHub Enterprise; empty = github.com
	// TokenFile is a path to a file holding the token (e.g. a mounted Secret).
	TokenFile string `yaml:"tokenFile"`
}

// Labels are the labels put on issues of each kind.
type Labels struct {
	Recert string `yaml:"recert"`
	Lost   string `yaml:"lost"`
}

// Archive configures the auditor's own copies of verified bundles (SPEC §9).
type Archive struct {
	// Enabled keeps a copy of every bundle verified healthy; false keeps
	// none (the transparency-log fallback still runs). Default true.
	Enabled bool `yaml:"enabled"`
	// Dir is the OCI image layout directory of the copies; default
	// <dataDir>/archive. Ignored when URL is set.
	Dir string `yaml:"dir"`
	// URL is an OCI repository to keep the copies in instead
	// ("registry.example/aicr-evidence-archive"); empty: Dir.
	URL string `yaml:"url"`
}

// Anchor configures the anchors of run heads and the signing of reports
// (SPEC §10). With nothing set, anchors are written unsigned beside the
// ledger, or signed keyless where an OIDC token is available.
type Anchor struct {
	// Key is a private key file (PEM, unencrypted PKCS#8 or SEC1; ECDSA
	// P-256 or Ed25519) that signs anchors and reports. Empty: keyless
	// through Fulcio where an OIDC token is available (GitHub Actions,
	// SIGSTORE_ID_TOKEN), else anchors are unsigned.
	Key string `yaml:"key"`
	// PublicKey is the public key (PEM) that checks anchors and reports;
	// default the public half of Key. Set it where the key is not (an
	// auditor's copy of the ledger).
	PublicKey string `yaml:"publicKey"`
	// Identity and Issuer are the certificate identity (SAN) and OIDC
	// issuer that keyless anchors and reports must carry; empty: any
	// identity the trusted root's CA certified is accepted and named.
	Identity string `yaml:"identity"`
	Issuer   string `yaml:"issuer"`
	// FulcioURL is the certificate authority of keyless signing. Default
	// https://fulcio.sigstore.dev.
	FulcioURL string `yaml:"fulcioURL"`
	// Log is the transparency log anchors and signed reports are submitted
	// to (Rekor v1 or v2, found out by asking it); empty: none.
	Log string `yaml:"log"`
	// TimestampURL is an RFC 3161 timestamp endpoint (e.g.
	// https://timestamp.sigstore.dev/api/v1/timestamp): keyless signatures
	// logged to a Rekor v2 log need one. Empty: none.
	TimestampURL string `yaml:"timestampURL"`
	// Dir is where anchor files are kept. Default "<ledger.path>.anchors".
	Dir string `yaml:"dir"`
}

// Log configures diagnostics on stderr.
type Log struct {
	Format string `yaml:"format"` // text | json
	Level  string `yaml:"level"`  // debug | info | warn | error
}

// DefaultMemoryBudget is memoryBudget's default: 128 MiB.
const DefaultMemoryBudget = 128 << 20

// MemoryLimit is the Go runtime's soft memory limit for a process that
// audits with c: the memory budget plus 32 MiB. The collector then reclaims
// what finished pointers and the run's bookkeeping left behind as the heap
// nears the budget, rather than letting it grow to twice what is live; at
// 10 000 pointers it held the peak RSS under 200 MiB for about 1 % more CPU
// (docs/BENCHMARKS.md). A run whose budget is full of files being verified
// makes the collector work harder (at most half the CPU, Go's cap) while
// they are held. 160 MiB by default.
func (c *Config) MemoryLimit() int64 { return c.MemoryBudget + 32<<20 }

// Default returns the configuration used when nothing else is said: it makes
// `run --repo DIR` work on its own (SPEC §4).
func Default() *Config {
	return &Config{
		Repo: Repo{
			Ref:         "main",
			EvidenceDir: "recipes/evidence",
			OverlaysDir: "recipes/overlays",
		},
		DataDir:  ".",
		Schedule: "0 3 1 1,4,7,10 *",
		Policy: Policy{
			WarnAfterMonths:   23,
			ExpireAfterMonths: 24,
			DeepEvery:         Duration(90 * 24 * time.Hour),
		},
		Rekor: Rekor{URL: "https://rekor.sigstore.dev"},
		Registry: Registry{
			Concurrency:   8,
			Timeout:       Duration(30 * time.Second),
			MaxLayerBytes: 256 << 20,
		},
		Issues: Issues{
			Sink:      "file",
			MaxPerRun: 20,
			Labels:    Labels{Recert: "evidence/recert", Lost: "evidence/lost"},
		},
		Archive: Archive{Enabled: true},
		Listen:  "127.0.0.1:9464",
		Log:     Log{Format: "text", Level: "info"},
		Anchor:  Anchor{FulcioURL: "https://fulcio.sigstore.dev"},

		ShutdownGrace: Duration(30 * time.Second),
		MemoryBudget:  DefaultMemoryBudget,
	}
}

// Secret holds a credential. It prints as a fixed mask so that it cannot
// leak through logs, errors or %v.
type Secret string

// String implements fmt.Stringer with a mask.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString implements fmt.GoStringer with a mask.
func (s Secret) GoString() string { return s.String() }

// MarshalText keeps the secret out of any encoding.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Reveal returns the secret value, for the one place that sends it.
func (s Secret) Reveal() string { return string(s) }
