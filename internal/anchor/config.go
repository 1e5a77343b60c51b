package anchor

import (
	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/evidence-auditd/evidence-auditd/internal/config"
)

// FromConfig builds the anchorer of cfg (SPEC §10): anchor.dir, signed
// with anchor.key, else keyless with an ambient OIDC token read through
// getenv (nil getenv: never keyless), else unsigned. It contacts nothing.
func FromConfig(cfg *config.Config, getenv func(string) string) (*Anchorer, error) {
	s, err := SignerFromConfig(cfg, getenv)
	if err != nil {
		return nil, err
	}
	return NewAnchorer(cfg.Anchor.Dir, s)
}

// TrustFromConfig is what cfg says anchors and signed reports are checked
// against: anchor.publicKey (or the public half of anchor.key), the keyless
// signer anchor.identity/anchor.issuer, and tr, the configured trusted root
// (nil, with trErr saying why, when it could not be loaded: keyless and
// logged anchors are then reported as not checkable).
func TrustFromConfig(cfg *config.Config, tr root.TrustedMaterial, trErr error) (Trust, error) {
	t := Trust{Identity: cfg.Anchor.Identity, Issuer: cfg.Anchor.Issuer, Root: tr, RootErr: trErr}
	switch {
	case cfg.Anchor.PublicKey != "":
		k, err := LoadPublicKey(cfg.Anchor.PublicKey, "anchor.publicKey")
		if err != nil {
			return Trust{}, err
		}
		t.Key = k
	case cfg.Anchor.Key != "":
		k, err := LoadPrivateKey(cfg.Anchor.Key, "anchor.key")
		if err != nil {
			return Trust{}, err
		}
		t.Key = k.PublicKey()
	}
	return t, nil
}

// CheckOptionsFromConfig are the options of Check for cfg: its anchors
// directory, t, and reading logged anchors back from Rekor v1 logs.
func CheckOptionsFromConfig(cfg *config.Config, t Trust) CheckOptions {
	return CheckOptions{Dir: cfg.Anchor.Dir, Trust: t, LogReader: RekorReader{}}
}
