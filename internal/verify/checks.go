package verify

import (
	"fmt"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
)

// Names of the checks, in the order Verify performs them. They are stable:
// `verify` prints them and reports and the ledger record them.
const (
	CheckBundleParse      = "bundle-parse"      // the signature material parses (Sigstore bundle or cosign layer)
	CheckTransparencyLog  = "transparency-log"  // log entry: inclusion proof and/or SET, observer timestamp
	CheckCertificateChain = "certificate-chain" // leaf chains to the trusted root at the log's time
	CheckSignature        = "signature"         // DSSE signature by the leaf's key
	CheckSignerIdentity   = "signer-identity"   // certificate SAN and issuer == the pointer's signer
	CheckRekorLogIndex    = "rekor-log-index"   // pointer's rekorLogIndex == the bundle's entry (a signer claim: identity)
	CheckStatement        = "statement"         // the signed payload is an in-toto statement with a predicate
	CheckSubjectDigest    = "subject-digest"    // subject[0] == the pointer's bundle digest
	CheckPredicateType    = "predicate-type"    // == the pointer's, and of a current era
	CheckPredicate        = "predicate"         // the era's rules (v2: profile)
	CheckRecipeName       = "recipe-name"       // predicate recipe.name == pointer recipe
	CheckProfile          = "profile"           // predicate.profile.selection == pointer profile
	CheckManifestDigest   = "manifest-digest"   // sha256(manifest.json) and fileCount == the predicate's
	CheckInventory        = "inventory"         // every listed file present with its size and hash
	CheckRecipeDigest     = "recipe-digest"     // predicate.recipe.digest == canonical digest of the verified recipe.yaml
	CheckCTRFDigests      = "ctrf-digests"      // ctrf/<phase>.json == the phase's ctrfDigest
	CheckPhases           = "phases"            // recorded failures → verified-with-failures
)

// CheckNames lists every check in order. Verify reports each of them
// exactly once: passed, warned, failed, or skipped when an earlier check
// failed.
var CheckNames = []string{
	CheckBundleParse, CheckTransparencyLog, CheckCertificateChain, CheckSignature,
	CheckSignerIdentity, CheckRekorLogIndex, CheckStatement, CheckSubjectDigest,
	CheckPredicateType, CheckPredicate, CheckRecipeName, CheckProfile,
	CheckManifestDigest, CheckInventory, CheckRecipeDigest, CheckCTRFDigests, CheckPhases,
}

// outcome is the result of one check. A failure carries the class of the
// invalid verdict it decides.
type outcome struct {
	status audit.CheckStatus
	detail string
	class  audit.Class // when status is fail
	hint   string
}

func pass(format string, args ...any) outcome {
	return outcome{status: audit.CheckPass, detail: fmt.Sprintf(format, args...)}
}

func warn(format string, args ...any) outcome {
	return outcome{status: audit.CheckWarn, detail: fmt.Sprintf(format, args...)}
}

func skip(format string, args ...any) outcome {
	return outcome{status: audit.CheckSkip, detail: fmt.Sprintf(format, args...)}
}

func fail(class audit.Class, format string, args ...any) outcome {
	return outcome{status: audit.CheckFail, class: class, detail: fmt.Sprintf(format, args...)}
}

func (o outcome) withHint(h string) outcome { o.hint = h; return o }
