package anchor

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"time"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
)

// maxBundleSize bounds a bundle read from a file or the ledger.
const maxBundleSize = 1 << 20

// Trust is what signatures are checked against: the anchor key's public
// half, the keyless signer expected, and the trusted root (Fulcio CAs,
// transparency logs, timestamp authorities). Zero fields leave what needs
// them uncheckable (said, never passed).
type Trust struct {
	Key      *Key                 // anchor.publicKey, or the public half of anchor.key
	Identity string               // keyless: expected SAN; "" accepts any certified identity
	Issuer   string               // keyless: expected OIDC issuer
	Root     root.TrustedMaterial // the configured trusted root; nil: keyless and logged proofs uncheckable
	// RootErr says why Root is nil, for the notes (e.g. the public-good
	// root could not be loaded offline).
	RootErr error
}

// errUncheckable marks a signature that cannot be checked here (no public
// key, no trusted root): not a fault, but never a pass either.
var errUncheckable = errors.New("cannot be checked")

// bundleFacts is what a verified bundle proved.
type bundleFacts struct {
	By       string // "key …" or "keyless <SAN> (issuer <issuer>)"
	LogIndex int64  // -1 when not logged (or the log proof was not checked)
	LogNote  string // why the log proof was not checked, when it was not
	Time     time.Time
	// Statement is the DSSE payload of a verified statement bundle.
	Statement []byte
}

// artifact is what a bundle must be about: the bytes of a message
// signature (an anchor's note body), or the sha256 digest a statement's
// subject must carry (a report file).
type artifact struct {
	data   []byte
	sha256 []byte
}

func (a artifact) policy() sgverify.ArtifactPolicyOption {
	if a.sha256 != nil {
		return sgverify.WithArtifactDigest("sha256", a.sha256)
	}
	return sgverify.WithArtifact(bytes.NewReader(a.data))
}

// checkBundle verifies a Sigstore bundle over art against t: signed by the
// anchor key, or by a certificate the trusted root's CA issued (to the
// expected identity, when one is set); its log entries and timestamps,
// when it has them, checked against the trusted root.
func checkBundle(raw []byte, art artifact, t Trust) (*bundleFacts, error) {
	if len(raw) > maxBundleSize {
		return nil, fmt.Errorf("bundle is %d bytes, limit %d", len(raw), maxBundleSize)
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(raw); err != nil {
		return nil, fmt.Errorf("bundle does not parse: %w", err)
	}
	vc, err := b.VerificationContent()
	if err != nil {
		return nil, fmt.Errorf("bundle verification material: %w", err)
	}
	facts := &bundleFacts{LogIndex: -1}
	logged := len(b.GetVerificationMaterial().GetTlogEntries()) > 0
	stamped := len(b.GetVerificationMaterial().GetTimestampVerificationData().GetRfc3161Timestamps()) > 0
	var res *sgverify.VerificationResult
	if leaf := vc.Certificate(); leaf != nil {
		if t.Root == nil {
			return nil, fmt.Errorf("keyless signature %w: no trusted root (%v)", errUncheckable, t.RootErr)
		}
		identity := sgverify.WithoutIdentitiesUnsafe()
		if t.Identity != "" {
			id, err := sgverify.NewShortCertificateIdentity(t.Issuer, "", t.Identity, "")
			if err != nil {
				return nil, err
			}
			identity = sgverify.WithCertificateIdentity(id)
		}
		if logged || stamped {
			opts := []sgverify.VerifierOption{sgverify.WithObserverTimestamps(1)}
			if logged {
				opts = append(opts, sgverify.WithTransparencyLog(1))
			}
			if len(t.Root.CTLogs()) > 0 {
				opts = append(opts, sgverify.WithSignedCertificateTimestamps(1))
			}
			v, err := sgverify.NewVerifier(t.Root, opts...)
			if err != nil {
				return nil, err
			}
			if res, err = v.Verify(&b, sgverify.NewPolicy(art.policy(), identity)); err != nil {
				return nil, err
			}
		} else if err := checkUnloggedCert(&b, vc, leaf, art, t); err != nil {
			return nil, err
		}
		sum, err := certificate.SummarizeCertificate(leaf)
		if err != nil {
			return nil, err
		}
		if t.Identity != "" && (sum.SubjectAlternativeName != t.Identity || sum.Issuer != t.Issuer) {
			return nil, fmt.Errorf("signed by %s (issuer %s), not by the expected %s (issuer %s)", sum.SubjectAlternativeName, sum.Issuer, t.Identity, t.Issuer)
		}
		facts.By = fmt.Sprintf("keyless %s (issuer %s)", sum.SubjectAlternativeName, sum.Issuer)
		if !logged && !stamped {
			facts.Time = leaf.NotBefore
		}
	} else {
		if t.Key == nil {
			return nil, fmt.Errorf("key signature %w: set anchor.publicKey (or anchor.key)", errUncheckable)
		}
		material, opts, note := keyMaterial(&b, t, logged)
		facts.LogNote = note
		var lastErr error
		for _, prehash := range keyVariants(&b, t.Key) {
			sv, err := t.Key.signatureVerifier(prehash)
			if err != nil {
				return nil, err
			}
			km := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) {
				return root.NewExpiringKey(sv, time.Time{}, time.Time{}), nil
			})
			var tm root.TrustedMaterial = km
			if material != nil {
				tm = root.TrustedMaterialCollection{km, material}
			}
			v, err := sgverify.NewVerifier(tm, opts...)
			if err != nil {
				return nil, err
			}
			if res, lastErr = v.Verify(&b, sgverify.NewPolicy(art.policy(), sgverify.WithKey())); lastErr == nil {
				break
			}
		}
		if lastErr != nil {
			return nil, fmt.Errorf("not signed by the anchor key %s: %w", t.Key.Fingerprint(), lastErr)
		}
		facts.By = "key " + t.Key.String()
	}
	if logged && facts.LogNote == "" {
		facts.LogIndex = b.GetVerificationMaterial().GetTlogEntries()[0].GetLogIndex()
	}
	if res != nil {
		for _, ts := range res.VerifiedTimestamps {
			if facts.Time.IsZero() || ts.Timestamp.Before(facts.Time) {
				facts.Time = ts.Timestamp
			}
		}
	}
	if env := b.GetDsseEnvelope(); env != nil {
		facts.Statement = env.GetPayload()
	}
	return facts, nil
}

// keyMaterial is the trusted root to check a key-signed bundle's log entry
// against, and the verifier options: the log entry is checked when there
// is one and a trusted root to check it with; a key needs no time.
func keyMaterial(b *bundle.Bundle, t Trust, logged bool) (root.TrustedMaterial, []sgverify.VerifierOption, string) {
	opts := []sgverify.VerifierOption{sgverify.WithNoObserverTimestamps()}
	if !logged {
		return nil, opts, ""
	}
	if t.Root == nil {
		return nil, opts, fmt.Sprintf("its log entry was not checked: no trusted root (%v)", t.RootErr)
	}
	return t.Root, append(opts, sgverify.WithTransparencyLog(1)), ""
}

// keyVariants lists how an Ed25519 key may have signed: a message
// signature over a SHA-512 digest is Ed25519ph; a DSSE envelope is pure
// Ed25519, or Ed25519ph when it was logged to a Rekor v2 log.
func keyVariants(b *bundle.Bundle, k *Key) []bool {
	if alg, _ := k.algorithm(); alg != algEd25519 {
		return []bool{false}
	}
	if ms := b.GetMessageSignature(); ms != nil {
		return []bool{ms.GetMessageDigest().GetAlgorithm() == protocommon.HashAlgorithm_SHA2_512}
	}
	return []bool{false, true}
}

// checkUnloggedCert checks a keyless bundle that has neither a log entry
// nor a timestamp: the certificate chains to a CA of the trusted root at
// its own start of validity (nothing proves a later time; a Fulcio
// certificate lives ten minutes), and the signature verifies with it.
func checkUnloggedCert(b *bundle.Bundle, vc sgverify.VerificationContent, leaf *x509.Certificate, art artifact, t Trust) error {
	chains, err := sgverify.VerifyLeafCertificate(leaf.NotBefore, leaf, t.Root)
	if err != nil {
		return fmt.Errorf("certificate: %w", err)
	}
	if len(t.Root.CTLogs()) > 0 {
		if err := sgverify.VerifySignedCertificateTimestamp(chains, 1, t.Root); err != nil {
			return fmt.Errorf("certificate: %w", err)
		}
	}
	sc, err := b.SignatureContent()
	if err != nil {
		return err
	}
	if art.sha256 != nil {
		err = sgverify.VerifySignatureWithArtifactDigests(sc, vc, t.Root, []sgverify.ArtifactDigest{{Algorithm: "sha256", Digest: art.sha256}})
	} else {
		err = sgverify.VerifySignatureWithArtifacts(sc, vc, t.Root, []io.Reader{bytes.NewReader(art.data)})
	}
	if err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	return nil
}
