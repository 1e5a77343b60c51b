package verify

import (
	"crypto/x509"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
)

// The certificate chain check is most of the cost of verifying a bundle
// (DESIGN "Targets": 61 % of 2.3 ms with a P-384 CA), and half of it, the
// intermediate's signature by the root, is the same for every bundle. The
// chain cache does that half once, in New, instead of once per bundle.
//
// How: for a certificate authority with exactly one intermediate I under
// its root R, New checks I against R once (signature, I is a CA). Per leaf,
// the fast path verifies leaf → I with I as the only trust anchor and then
// checks what treating I as an anchor leaves out. It is sound — whatever it
// accepts, the full leaf → I → R verification accepts — because every rule
// Go's x509 applies to the full chain is covered:
//
//   - signatures: leaf by I (per leaf), I by R (once, in New);
//   - validity at the observer time: leaf and I (per leaf, I as anchor is
//     still checked), R (per leaf, explicitly), and the CA's validity
//     period from the trusted root (per leaf, as sigstore-go does);
//   - I may sign: basic constraints CA (once); key usage CertSign (per
//     leaf, x509 checks it on the parent of every signature);
//   - path length: R's limit allows one intermediate (once); I's limit
//     allows zero below it (always true);
//   - extended key usage code signing: leaf and I (per leaf), R (once);
//   - name constraints: I's (per leaf); R has none (once, else no cache);
//   - certificate policies: neither I, R nor the leaf carries a policy
//     constraint (I and R once, the leaf per call), so no explicit policy
//     is ever required and the policy tree cannot fail either chain;
//   - unhandled critical extensions: none on I or R (once).
//
// Anything else — no or several intermediates, a root with name or policy
// constraints, a leaf the fast path rejects — takes sigstore-go's own full
// verification, so the cache can only save work, never change a verdict.
// Intermediates carried inside a bundle (v0.1/v0.2 chains) are not used by
// the wrapped authorities: that can only reject, never accept, more; the
// bundles this auditor reads carry the leaf alone.
type chainCache struct {
	root.TrustedMaterial
	cas []root.CertificateAuthority
}

func newChainCache(tm root.TrustedMaterial) *chainCache {
	c := &chainCache{TrustedMaterial: tm}
	for _, ca := range tm.FulcioCertificateAuthorities() {
		if fca, ok := ca.(*root.FulcioCertificateAuthority); ok {
			if fast := newFastCA(fca); fast != nil {
				c.cas = append(c.cas, fast)
				continue
			}
		}
		c.cas = append(c.cas, ca)
	}
	return c
}

// FulcioCertificateAuthorities returns the trusted root's authorities, each
// wrapped with the fast path when it qualifies.
func (c *chainCache) FulcioCertificateAuthorities() []root.CertificateAuthority { return c.cas }

// fastCA is a FulcioCertificateAuthority whose intermediate has been
// verified against its root once.
type fastCA struct {
	full   *root.FulcioCertificateAuthority
	anchor *x509.CertPool // the intermediate alone
}

func newFastCA(fca *root.FulcioCertificateAuthority) *fastCA {
	if fca.Root == nil || len(fca.Intermediates) != 1 {
		return nil
	}
	r, i := fca.Root, fca.Intermediates[0]
	if !plainCA(r) || !plainCA(i) {
		return nil
	}
	if !i.BasicConstraintsValid || !i.IsCA {
		return nil
	}
	if r.BasicConstraintsValid && r.MaxPathLen == 0 {
		return nil // no room for the intermediate (-1 means no limit)
	}
	if !allowsCodeSigning(r) {
		return nil
	}
	if err := i.CheckSignatureFrom(r); err != nil {
		return nil
	}
	pool := x509.NewCertPool()
	pool.AddCert(i)
	return &fastCA{full: fca, anchor: pool}
}

// plainCA reports whether c has no name constraints, no policy constraints
// and no critical extension x509 does not handle.
func plainCA(c *x509.Certificate) bool {
	return !hasPolicyConstraints(c) &&
		len(c.UnhandledCriticalExtensions) == 0 &&
		!c.PermittedDNSDomainsCritical &&
		len(c.PermittedDNSDomains) == 0 && len(c.ExcludedDNSDomains) == 0 &&
		len(c.PermittedIPRanges) == 0 && len(c.ExcludedIPRanges) == 0 &&
		len(c.PermittedEmailAddresses) == 0 && len(c.ExcludedEmailAddresses) == 0 &&
		len(c.PermittedURIDomains) == 0 && len(c.ExcludedURIDomains) == 0
}

func hasPolicyConstraints(c *x509.Certificate) bool {
	return c.RequireExplicitPolicy > 0 || c.RequireExplicitPolicyZero ||
		c.InhibitPolicyMapping > 0 || c.InhibitPolicyMappingZero ||
		c.InhibitAnyPolicy > 0 || c.InhibitAnyPolicyZero ||
		len(c.PolicyMappings) > 0
}

func allowsCodeSigning(c *x509.Certificate) bool {
	if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 {
		return true
	}
	for _, u := range c.ExtKeyUsage {
		if u == x509.ExtKeyUsageAny || u == x509.ExtKeyUsageCodeSigning {
			return true
		}
	}
	return false
}

// Verify is root.FulcioCertificateAuthority.Verify with the fast path.
func (f *fastCA) Verify(leaf *x509.Certificate, t time.Time) ([][]*x509.Certificate, error) {
	fca := f.full
	r := fca.Root
	if hasPolicyConstraints(leaf) ||
		(!fca.ValidityPeriodStart.IsZero() && t.Before(fca.ValidityPeriodStart)) ||
		(!fca.ValidityPeriodEnd.IsZero() && t.After(fca.ValidityPeriodEnd)) ||
		t.Before(r.NotBefore) || t.After(r.NotAfter) {
		return fca.Verify(leaf, t)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		CurrentTime: t,
		Roots:       f.anchor,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	})
	if err != nil {
		return fca.Verify(leaf, t)
	}
	for i := range chains {
		chains[i] = append(chains[i], r)
	}
	return chains, nil
}
