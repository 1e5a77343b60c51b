package verify

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
)

// A cosign attestation layer may carry an RFC 3161 timestamp
// (annotation dev.sigstore.cosign/rfc3161timestamp) beside or instead of
// its Rekor bundle. What cosign timestamps for a DSSE layer is the layer's
// content — the whole envelope JSON as stored, since an attestation layer
// has no signature annotation (cosign v2.6.5, attest.go and
// VerifyRFC3161Timestamp) — not the DSSE signature that a Sigstore
// bundle's timestamps cover. The converted bundle carries the timestamp in
// its timestamp verification data, and sigstore-go checks it through
// timestampedLayer, which presents the layer bytes as the signature the
// timestamp is over.
//
//   - With a Rekor bundle, the log rules apply as for any legacy layer: the
//     main verifier requires the log entry, whose integrated time is the
//     observer time. The timestamp is checked as well, as cosign does: one
//     that a listed authority did not sign as it stands fails the layer;
//     one from an authority the trusted root does not list is noted, not
//     failed (the log already proves the time).
//   - With the timestamp alone, the timestamp verifier (Verifier.tsv)
//     requires one signed timestamp from an authority in the trusted root
//     instead of a log entry; the timestamp is then the observer time.

// cosignRFC3161 mirrors cosign's pkg/cosign/bundle.RFC3161Timestamp: the
// annotation's JSON, the DER TimeStampResp in base64.
type cosignRFC3161 struct {
	SignedRFC3161Timestamp []byte `json:"SignedRFC3161Timestamp"`
}

// layerTimestamp is a legacy layer's RFC 3161 timestamp.
type layerTimestamp struct {
	der   []byte // the DER TimeStampResp
	layer []byte // what it is over: the layer's content, as fetched
	only  bool   // the layer has no Rekor bundle: the timestamp stands in for the log
	note  string // with a log entry: what became of the timestamp, for transparency-log's detail
}

// parseLayerTimestamp reads the annotation; nil, nil when there is none.
func parseLayerTimestamp(l audit.LegacyLayer) (*layerTimestamp, error) {
	if l.RFC3161Timestamp == "" {
		return nil, nil
	}
	var ct cosignRFC3161
	if err := json.Unmarshal([]byte(l.RFC3161Timestamp), &ct); err != nil {
		return nil, fmt.Errorf("RFC 3161 timestamp annotation does not parse: %w", err)
	}
	if len(ct.SignedRFC3161Timestamp) == 0 {
		return nil, errors.New("RFC 3161 timestamp annotation holds no SignedRFC3161Timestamp")
	}
	return &layerTimestamp{der: ct.SignedRFC3161Timestamp, layer: l.Envelope, only: l.Bundle == ""}, nil
}

// timestampedLayer is a legacy layer's bundle as sigstore-go must see it to
// check the layer's RFC 3161 timestamp: everything as converted, except
// that the signature a timestamp covers is the layer's content. DSSE
// verification reads the envelope, not Signature(), so only the timestamp
// check (and a Rekor v1 entry's signature match, which is why a layer with
// a log entry is verified without it) sees the difference.
type timestampedLayer struct {
	*bundle.Bundle
	layer []byte
}

func (t timestampedLayer) SignatureContent() (sgverify.SignatureContent, error) {
	sc, err := t.Bundle.SignatureContent()
	if err != nil {
		return nil, err
	}
	return layerSignature{SignatureContent: sc, layer: t.layer}, nil
}

type layerSignature struct {
	sgverify.SignatureContent
	layer []byte
}

func (l layerSignature) Signature() []byte { return l.layer }

// sigstoreVerify runs sigstore-go on the signature material: the main
// verifier, or for a legacy layer with a timestamp, as described above.
// Errors keep sigstore-go's prefixes, which verifyCrypto attributes.
func (s *state) sigstoreVerify() (*sgverify.VerificationResult, error) {
	lt := s.layerTS
	if lt == nil {
		return s.v.sv.Verify(s.entity, policy)
	}
	if lt.only {
		return s.v.tsv.Verify(timestampedLayer{Bundle: s.entity, layer: lt.layer}, policy)
	}
	res, err := s.v.sv.Verify(s.entity, policy)
	if err != nil {
		return nil, err
	}
	ts, errs, err := sgverify.VerifySignedTimestamp(timestampedLayer{Bundle: s.entity, layer: lt.layer}, s.v.material)
	if err == nil && len(ts) > 0 {
		lt.note = fmt.Sprintf("the layer's RFC 3161 timestamp (%s, by %s) verified too",
			ts[0].Time.UTC().Format(time.RFC3339), identifyTimestamp(lt.der, s.v.material).Name)
		return res, nil
	}
	if err == nil {
		err = errors.Join(errs...)
	}
	if ta := identifyTimestamp(lt.der, s.v.material); ta.Unlisted {
		lt.note = fmt.Sprintf("the layer's RFC 3161 timestamp was not checked: it is signed by %s, which the trusted root does not list (refresh it to check the timestamp; the log entry proves the time)", ta.Name)
		return res, nil
	}
	// sigstore-go's prefix for a timestamp failure: transparency-log.
	return nil, fmt.Errorf("failed to verify timestamps: the layer's RFC 3161 timestamp does not verify: %w", err)
}

// checkTransparencyLog is the transparency-log check: the log entry
// (checkLogEntry), and for a legacy layer with an RFC 3161 timestamp, what
// the timestamp proves.
func (s *state) checkTransparencyLog() outcome {
	lt := s.layerTS
	if lt == nil {
		return s.checkLogEntry()
	}
	if !lt.only {
		o := s.checkLogEntry()
		if o.status == audit.CheckPass && lt.note != "" {
			o.detail += "; " + lt.note
		}
		return o
	}
	s.verifyCrypto()
	ta := identifyTimestamp(lt.der, s.v.material)
	if s.sigErr != nil && s.sigStep == CheckTransparencyLog {
		if ta.Unlisted {
			return fail(audit.ClassSignature,
				"%s carries no transparency-log entry, and its RFC 3161 timestamp is signed by %s, a timestamp authority the trusted root (%s…) does not list: its time cannot be checked",
				s.form, ta.Name, short(s.v.root.name)).
				withHint("if that timestamp authority is trusted, refresh the trusted root (trust.trustedRoot) so that it lists it: stale trust material, not a sign of tampering")
		}
		o, _ := s.cryptoFailure(CheckTransparencyLog)
		return o
	}
	if s.result != nil {
		s.out.IntegratedTime = observerTime(s.result.VerifiedTimestamps)
	}
	return warn("%s carries no transparency-log entry: it was timestamped instead of logged. Its RFC 3161 timestamp by %s, "+
		"verified against the trusted root, proves that the signed attestation existed at %s, while its certificate was valid; "+
		"it does not prove that the attestation was ever published, and no log can stand in for it if the registry loses it",
		s.form, ta.Name, ta.Time.UTC().Format(time.RFC3339))
}

// timestampOnlyLogIndex is rekor-log-index for a layer without a log
// entry: no index the pointer names can be its entry, a signer claim the
// bundle contradicts (SPEC §3: identity).
func (s *state) timestampOnlyLogIndex(want *int64) outcome {
	if want == nil {
		return skip("the pointer names no rekorLogIndex, and %s has no log entry", s.form)
	}
	return fail(audit.ClassIdentity,
		"the pointer names log index %d, but %s carries no transparency-log entry (it was timestamped with RFC 3161 instead of logged): no log index can match", *want, s.form).
		withHint("remove signer.rekorLogIndex from the pointer: this attestation was never logged")
}

// entryPhrase names the bundle's log entry for a verdict's detail.
func (s *state) entryPhrase() string {
	if s.layerTS != nil && s.layerTS.only {
		return "no log entry (RFC 3161 timestamp " + s.out.IntegratedTime.UTC().Format(time.RFC3339) + ")"
	}
	return fmt.Sprintf("log entry %d", s.out.LogIndex)
}
