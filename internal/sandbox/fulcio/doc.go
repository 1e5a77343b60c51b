// Package fulcio is the sandbox's keyless-signing front: an OpenID Connect
// issuer (Issuer) that mints identity tokens as GitHub Actions' issuer does,
// and a Fulcio-like certificate authority (Fulcio) that exchanges such a
// token for a short-lived code-signing certificate from the sandbox CA
// (internal/sandbox/ca).
//
// Both speak the real protocols, so the auditor's keyless signing runs
// unchanged against them:
//
//   - Issuer serves OIDC discovery (/.well-known/openid-configuration) and
//     its JSON Web Key Set (/jwks); tokens are ES256 JWTs with the claims
//     GitHub's issuer sets (sub, aud "sigstore", job_workflow_ref, ...).
//     It also serves the GitHub Actions token request endpoint (/token,
//     bearer ACTIONS_ID_TOKEN_REQUEST_TOKEN, answering {"value": "<jwt>"}).
//   - Fulcio answers POST /api/v2/signingCert as Fulcio does: it verifies the
//     bearer token against the issuer (discovery and keys fetched over HTTP,
//     with github.com/coreos/go-oidc, as Fulcio does), checks the proof of
//     possession (a signature over the token's subject by the key to
//     certify), and issues a ten-minute certificate naming the identity
//     Fulcio would: https://github.com/<job_workflow_ref> for a workflow
//     token, the verified e-mail otherwise, with the token's issuer in the
//     Fulcio issuer extensions.
//
// The package is product code (it could power keyless signing in the demo);
// of the evidence-auditd packages it imports only internal/sandbox/ca.
package fulcio
