package job

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/config"
	"github.com/evidence-auditd/evidence-auditd/internal/registry"
	"github.com/evidence-auditd/evidence-auditd/internal/rekor"
	"github.com/evidence-auditd/evidence-auditd/internal/verify"
)

// Instruments, when set, wraps the transports of the registry client and
// the transparency log so that every request is counted and timed (serve's
// metrics); daemon.Metrics satisfies it.
type Instruments interface {
	InstrumentTransport(target string, rt http.RoundTripper) http.RoundTripper
}

// Policy is the audit policy of the configuration.
func Policy(cfg *config.Config) audit.Policy {
	return audit.Policy{
		WarnAfterMonths:   cfg.Policy.WarnAfterMonths,
		ExpireAfterMonths: cfg.Policy.ExpireAfterMonths,
		DeepEvery:         time.Duration(cfg.Policy.DeepEvery),
		FailUnlisted:      cfg.Policy.FailUnlisted,
	}
}

// NewVerifier loads the configured trusted root: a private trusted_root.json,
// or the public-good root through TUF with its cache under dataDir.
func NewVerifier(ctx context.Context, cfg *config.Config) (*verify.Verifier, error) {
	var (
		tr  *verify.TrustedRoot
		err error
	)
	if cfg.Trust.TrustedRoot != "" {
		tr, err = verify.LoadTrustedRoot(cfg.Trust.TrustedRoot)
	} else {
		tr, err = verify.PublicGood(ctx, filepath.Join(cfg.DataDir, "tuf"))
	}
	if err != nil {
		return nil, fmt.Errorf("trusted root: %w", err)
	}
	return verify.New(tr)
}

// NewRekor is the transparency-log fallback and monitor at rekor.url,
// checked against the verifier's trusted root, re-verifying the ledger's
// cached bundles with the verifier (DESIGN "rekor fallback").
func NewRekor(cfg *config.Config, v *verify.Verifier, userAgent string, inst Instruments, opts ...rekor.Option) (*rekor.Log, error) {
	opts = append([]rekor.Option{
		rekor.WithCachedVerifier(v),
		rekor.WithUserAgent(userAgent),
	}, opts...)
	if inst != nil {
		opts = append(opts, rekor.WithTransport(inst.InstrumentTransport("rekor", http.DefaultTransport)))
	}
	l, err := rekor.New(cfg.Rekor.URL, v.TrustedMaterial(), opts...)
	if err != nil {
		return nil, fmt.Errorf("rekor.url: %w", err)
	}
	return l, nil
}

// NewRegistryClient is the OCI client of the configuration; with inst,
// every request is counted and timed.
func NewRegistryClient(cfg *config.Config, userAgent string, inst Instruments) (*registry.Client, error) {
	var wrap func(http.RoundTripper) http.RoundTripper
	if inst != nil {
		wrap = func(rt http.RoundTripper) http.RoundTripper { return inst.InstrumentTransport("registry", rt) }
	}
	return registry.New(
		registry.WithTransportWrapper(wrap),
		registry.WithPlainHTTP(cfg.Registry.PlainHTTP...),
		registry.WithAllowedHosts(cfg.Registry.Allow...),
		registry.AllowPrivateNetworksUnsafe(cfg.Registry.AllowPrivateNetworks),
		registry.WithTimeout(time.Duration(cfg.Registry.Timeout)),
		registry.WithLimits(registry.Limits{Layer: cfg.Registry.MaxLayerBytes}),
		registry.WithUserAgent(userAgent),
	)
}
