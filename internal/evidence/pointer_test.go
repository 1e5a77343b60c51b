package evidence_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
)

const validPointer = `# a pointer
schemaVersion: 1.0.0
recipe: h100-aks-ubuntu-inference-dynamo
attestations:
  - attestedAt: 2026-07-21T19:45:26Z
    bundle:
      oci: ghcr.io/owner/aicr-evidence:tag
      digest: sha256:edc042d2e32d58bde9bb0e7cfdaa14568a13c144fdf0869958a4d582f3fc8cfc
      predicateType: https://aicr.run/recipe-evidence/v1
    signer:
      identity: https://github.com/o/r/.github/workflows/x.yaml@refs/heads/b
      issuer: https://token.actions.githubusercontent.com
      rekorLogIndex: 35699965
`

func TestParsePointerReal(t *testing.T) {
	idx := func(i int64) *int64 { return &i }
	tests := []struct {
		file, recipe, profile, digest, predicate, identity, issuer, attestedAt string
		index                                                                  *int64
	}{
		{"per-source-v1.yaml", "h100-aks-ubuntu-inference-dynamo", "",
			"sha256:edc042d2e32d58bde9bb0e7cfdaa14568a13c144fdf0869958a4d582f3fc8cfc", evidence.PredicateTypeV1,
			"https://github.com/yuanchen8911/aicr/.github/workflows/evidence-publish.yaml@refs/heads/evidence/aks-h100-training-inference",
			"https://token.actions.githubusercontent.com", "2026-07-21T19:45:26Z", idx(35699965)},
		{"per-source-v2-profile.yaml", "gb200-gke-cos-inference-gpustack-bundle-installer", "gpuStack=bundle-installer",
			"sha256:a60e5141bcfa079553d1595d2320e52a15afc1640c93398a8dfbb490fd9655c2", evidence.PredicateTypeV2,
			"1082845+mikecook@users.noreply.github.com", "https://github.com/login/oauth", "2026-09-16T00:31:44Z", idx(111692565)},
		{"legacy-flat.yaml", "h100-eks-ubuntu-inference-dynamo", "",
			"sha256:da9d8838e1ce4032256b04d75e27dc7248a3fd230bd7fd0f112bd306bc367317", evidence.PredicateTypeLegacy,
			"yuanchen97@gmail.com", "https://github.com/login/oauth", "2026-06-03T00:52:58Z", idx(1706788485)},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			p, err := evidence.ParsePointer(fixture(t, "pointers/"+tt.file))
			if err != nil {
				t.Fatalf("ParsePointer: %v", err)
			}
			if got, want := p.SchemaVersion, "1.0.0"; got != want {
				t.Errorf("schemaVersion: got %q, want %q", got, want)
			}
			if got, want := p.Recipe, tt.recipe; got != want {
				t.Errorf("recipe: got %q, want %q", got, want)
			}
			if got, want := p.Profile, tt.profile; got != want {
				t.Errorf("profile: got %q, want %q", got, want)
			}
			if got, want := len(p.Attestations), 1; got != want {
				t.Fatalf("attestations: got %d, want %d", got, want)
			}
			a := p.Attestations[0]
			if got, want := a.Bundle.Digest, tt.digest; got != want {
				t.Errorf("digest: got %q, want %q", got, want)
			}
			if got, want := a.Bundle.PredicateType, tt.predicate; got != want {
				t.Errorf("predicateType: got %q, want %q", got, want)
			}
			if got, want := a.AttestedAtRaw, tt.attestedAt; got != want {
				t.Errorf("attestedAtRaw: got %q, want %q", got, want)
			}
			if want, _ := time.Parse(time.RFC3339, tt.attestedAt); !a.AttestedAt.Equal(want) {
				t.Errorf("attestedAt: got %v, want %v", a.AttestedAt, want)
			}
			if a.Signer == nil {
				t.Fatal("signer: got nil, want one")
			}
			if got, want := a.Signer.Identity, tt.identity; got != want {
				t.Errorf("identity: got %q, want %q", got, want)
			}
			if got, want := a.Signer.Issuer, tt.issuer; got != want {
				t.Errorf("issuer: got %q, want %q", got, want)
			}
			if a.Signer.RekorLogIndex == nil || *a.Signer.RekorLogIndex != *tt.index {
				t.Errorf("rekorLogIndex: got %v, want %d", a.Signer.RekorLogIndex, *tt.index)
			}
		})
	}
}

func TestParsePointerAccepts(t *testing.T) {
	tests := []struct {
		name, old, new string
		check          func(t *testing.T, p *evidence.Pointer)
	}{
		{"schema 1.0 unquoted", "schemaVersion: 1.0.0", "schemaVersion: 1.0", nil},
		{"schema 1.0 quoted", "schemaVersion: 1.0.0", `schemaVersion: "1.0"`, nil},
		{"schema 1.0.7", "schemaVersion: 1.0.0", "schemaVersion: 1.0.7", nil},
		{"quoted attestedAt", "attestedAt: 2026-07-21T19:45:26Z", `attestedAt: "2026-07-21T19:45:26.5+02:00"`, nil},
		{"no rekorLogIndex", "      rekorLogIndex: 35699965\n", "", func(t *testing.T, p *evidence.Pointer) {
			if got := p.Attestations[0].Signer.RekorLogIndex; got != nil {
				t.Errorf("rekorLogIndex: got %d, want nil", *got)
			}
		}},
		{"rekorLogIndex 0", "rekorLogIndex: 35699965", "rekorLogIndex: 0", nil},
		{"unsigned", "    signer:\n      identity: https://github.com/o/r/.github/workflows/x.yaml@refs/heads/b\n      issuer: https://token.actions.githubusercontent.com\n      rekorLogIndex: 35699965\n", "", func(t *testing.T, p *evidence.Pointer) {
			if p.Attestations[0].Signer != nil {
				t.Error("signer: got one, want nil")
			}
		}},
		{"null signer", "    signer:\n      identity: https://github.com/o/r/.github/workflows/x.yaml@refs/heads/b\n      issuer: https://token.actions.githubusercontent.com\n      rekorLogIndex: 35699965\n", "    signer: null\n", func(t *testing.T, p *evidence.Pointer) {
			if p.Attestations[0].Signer != nil {
				t.Error("signer: got one, want nil")
			}
		}},
		{"oci with port", "ghcr.io/owner/aicr-evidence:tag", "127.0.0.1:5000/evidence/bundles", nil},
		{"oci localhost", "ghcr.io/owner/aicr-evidence:tag", "localhost/evidence", nil},
		{"oci with matching digest", "ghcr.io/owner/aicr-evidence:tag", "ghcr.io/owner/aicr-evidence@sha256:edc042d2e32d58bde9bb0e7cfdaa14568a13c144fdf0869958a4d582f3fc8cfc", func(t *testing.T, p *evidence.Pointer) {
			if got, want := p.Attestations[0].Bundle.Repository(), "ghcr.io/owner/aicr-evidence"; got != want {
				t.Errorf("repository: got %q, want %q", got, want)
			}
		}},
		{"e-mail identity", "identity: https://github.com/o/r/.github/workflows/x.yaml@refs/heads/b", "identity: someone@example.com", nil},
		{"profile", "recipe: h100-aks-ubuntu-inference-dynamo", "recipe: h100-aks-ubuntu-inference-dynamo-gpustack-bundle-installer\nprofile: gpuStack=bundle-installer", nil},
		{"unknown predicate type parses (Validate reports it)", "https://aicr.run/recipe-evidence/v1", "https://example.com/other/v9", nil},
		{"key order", "", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := replace(t, validPointer, tt.old, tt.new)
			p, err := evidence.ParsePointer([]byte(in))
			if err != nil {
				t.Fatalf("ParsePointer: %v", err)
			}
			if got, want := p.Attestations[0].Bundle.Repository(), "ghcr.io/owner/aicr-evidence"; tt.name == "key order" && got != want {
				t.Errorf("repository: got %q, want %q", got, want)
			}
			if tt.check != nil {
				tt.check(t, p)
			}
		})
	}
}

func TestParsePointerRejects(t *testing.T) {
	const (
		att    = "attestations[0]"
		bundle = att + ".bundle"
		signer = att + ".signer"
	)
	tests := []struct {
		name, old, new, field string
	}{
		{"duplicate key", "", "recipe: other\n", "recipe"},
		{"duplicate extra key", "", "fingerprint: {}\nfingerprint: {}\n", "fingerprint"},
		{"extra key beside a wrong known type", "schemaVersion: 1.0.0", "schemaVersion: [1]\nfingerprint: {}", "schemaVersion"},
		{"extra key beside a missing known key", "      issuer: https://token.actions.githubusercontent.com\n", "      issuers: https://token.actions.githubusercontent.com\n", signer + ".issuer"},
		{"missing schemaVersion", "schemaVersion: 1.0.0\n", "", "schemaVersion"},
		{"schemaVersion 2", "schemaVersion: 1.0.0", "schemaVersion: 2.0.0", "schemaVersion"},
		{"schemaVersion 1.1", "schemaVersion: 1.0.0", "schemaVersion: 1.1", "schemaVersion"},
		{"schemaVersion list", "schemaVersion: 1.0.0", "schemaVersion: [1]", "schemaVersion"},
		{"missing recipe", "recipe: h100-aks-ubuntu-inference-dynamo\n", "", "recipe"},
		{"recipe uppercase", "recipe: h100-aks-ubuntu-inference-dynamo", "recipe: H100", "recipe"},
		{"recipe traversal", "recipe: h100-aks-ubuntu-inference-dynamo", "recipe: ../x", "recipe"},
		{"recipe slash", "recipe: h100-aks-ubuntu-inference-dynamo", "recipe: a/b", "recipe"},
		{"recipe number", "recipe: h100-aks-ubuntu-inference-dynamo", "recipe: 42", "recipe"},
		{"empty profile", "", "profile: ''\n", "profile"},
		{"malformed profile", "", "profile: gpuStack\n", "profile"},
		{"missing attestedAt", "  - attestedAt: 2026-07-21T19:45:26Z\n    bundle:", "  - bundle:", att + ".attestedAt"},
		{"bad attestedAt", "2026-07-21T19:45:26Z", "yesterday", att + ".attestedAt"},
		{"attestedAt without T", "2026-07-21T19:45:26Z", "2026-07-21 19:45:26", att + ".attestedAt"},
		{"attestedAt date only", "2026-07-21T19:45:26Z", "2026-07-21", att + ".attestedAt"},
		{"missing bundle", "    bundle:\n      oci: ghcr.io/owner/aicr-evidence:tag\n      digest: sha256:edc042d2e32d58bde9bb0e7cfdaa14568a13c144fdf0869958a4d582f3fc8cfc\n      predicateType: https://aicr.run/recipe-evidence/v1\n", "", bundle},
		{"uppercase digest", "sha256:edc042d2e32d58bde9bb0e7cfdaa14568a13c144fdf0869958a4d582f3fc8cfc", "sha256:EDC042D2E32D58BDE9BB0E7CFDAA14568A13C144FDF0869958A4D582F3FC8CFC", bundle + ".digest"},
		{"short digest", "sha256:edc042d2e32d58bde9bb0e7cfdaa14568a13c144fdf0869958a4d582f3fc8cfc", "sha256:edc042", bundle + ".digest"},
		{"sha512 digest", "digest: sha256:edc0", "digest: sha512:edc0", bundle + ".digest"},
		{"dash digest", "digest: sha256:edc0", "digest: sha256-edc0", bundle + ".digest"},
		{"missing digest", "      digest: sha256:edc042d2e32d58bde9bb0e7cfdaa14568a13c144fdf0869958a4d582f3fc8cfc\n", "", bundle + ".digest"},
		{"oci without host", "ghcr.io/owner/aicr-evidence:tag", "aicr-evidence:tag", bundle + ".oci"},
		{"oci shortname", "ghcr.io/owner/aicr-evidence:tag", "library/aicr-evidence:tag", bundle + ".oci"},
		{"oci host only", "ghcr.io/owner/aicr-evidence:tag", "ghcr.io", bundle + ".oci"},
		{"oci uppercase repo", "ghcr.io/owner/aicr-evidence:tag", "ghcr.io/Owner/aicr-evidence:tag", bundle + ".oci"},
		{"oci scheme", "ghcr.io/owner/aicr-evidence:tag", "https://ghcr.io/owner/aicr-evidence", bundle + ".oci"},
		{"oci other digest", "ghcr.io/owner/aicr-evidence:tag", "ghcr.io/owner/aicr-evidence@sha256:0000000000000000000000000000000000000000000000000000000000000000", bundle + ".oci"},
		{"oci empty", "ghcr.io/owner/aicr-evidence:tag", "''", bundle + ".oci"},
		{"missing predicateType", "      predicateType: https://aicr.run/recipe-evidence/v1\n", "", bundle + ".predicateType"},
		{"predicateType not a URI", "https://aicr.run/recipe-evidence/v1", "recipe evidence", bundle + ".predicateType"},
		{"empty identity", "identity: https://github.com/o/r/.github/workflows/x.yaml@refs/heads/b", "identity: ''", signer + ".identity"},
		{"missing identity", "      identity: https://github.com/o/r/.github/workflows/x.yaml@refs/heads/b\n", "", signer + ".identity"},
		{"missing issuer", "      issuer: https://token.actions.githubusercontent.com\n", "", signer + ".issuer"},
		{"issuer with newline", "issuer: https://token.actions.githubusercontent.com", `issuer: "https://a\nb"`, signer + ".issuer"},
		{"empty signer", "    signer:\n      identity: https://github.com/o/r/.github/workflows/x.yaml@refs/heads/b\n      issuer: https://token.actions.githubusercontent.com\n      rekorLogIndex: 35699965\n", "    signer: {}\n", signer + ".identity"},
		{"signer is a string", "    signer:\n      identity: https://github.com/o/r/.github/workflows/x.yaml@refs/heads/b\n      issuer: https://token.actions.githubusercontent.com\n      rekorLogIndex: 35699965\n", "    signer: me\n", signer},
		{"negative rekorLogIndex", "rekorLogIndex: 35699965", "rekorLogIndex: -1", signer + ".rekorLogIndex"},
		{"quoted rekorLogIndex", "rekorLogIndex: 35699965", `rekorLogIndex: "35699965"`, signer + ".rekorLogIndex"},
		{"float rekorLogIndex", "rekorLogIndex: 35699965", "rekorLogIndex: 1.5", signer + ".rekorLogIndex"},
		{"hex rekorLogIndex", "rekorLogIndex: 35699965", "rekorLogIndex: 0x10", signer + ".rekorLogIndex"},
		{"huge rekorLogIndex", "rekorLogIndex: 35699965", "rekorLogIndex: 99999999999999999999", signer + ".rekorLogIndex"},
		{"alias", "recipe: h100-aks-ubuntu-inference-dynamo", "recipe: &r h100-aks-ubuntu-inference-dynamo\nprofile: *r", "profile"},
		{"merge key", "    bundle:", "    <<: {x: 1}\n    bundle:", att},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := replace(t, validPointer, tt.old, tt.new)
			p, err := evidence.ParsePointer([]byte(in))
			if err == nil {
				t.Fatalf("got %+v, want an error", p)
			}
			checkSchemaErr(t, err, tt.field)
		})
	}
}

// TestParsePointerExtraKeys: keys beyond schema 1.0.0 are collected, not
// rejected (SPEC §2.1), at every level, whatever their values.
func TestParsePointerExtraKeys(t *testing.T) {
	p, err := evidence.ParsePointer(fixture(t, "pointers/older-denormalized.yaml"))
	if err != nil {
		t.Fatalf("older AICR pointer: %v", err)
	}
	if got, want := strings.Join(p.ExtraKeys, " "), "attestations[0].criteriaMatch attestations[0].fingerprint attestations[0].phaseSummary"; got != want {
		t.Errorf("ExtraKeys = %q, want %q", got, want)
	}
	if got := p.Attestations[0].Signer; got == nil || got.RekorLogIndex == nil || *got.RekorLogIndex != 35011234 {
		t.Errorf("known keys lost beside the extra ones: signer %+v", got)
	}

	in := replace(t, validPointer, "", "fingerprint:\n  service: eks\nnote: &n [1, 2]\nalso: *n\n")
	in = replace(t, in, "      predicateType:", "      size: 3\n      predicateType:")
	in = replace(t, in, "      rekorLogIndex: 35699965", "      rekorLogIndex: 35699965\n      email: a@b.c")
	p, err = evidence.ParsePointer([]byte(in))
	if err != nil {
		t.Fatalf("extra keys at every level: %v", err)
	}
	if got, want := strings.Join(p.ExtraKeys, " "), "also attestations[0].bundle.size attestations[0].signer.email fingerprint note"; got != want {
		t.Errorf("ExtraKeys = %q, want %q", got, want)
	}
	p, err = evidence.ParsePointer([]byte(validPointer))
	if err != nil || len(p.ExtraKeys) != 0 {
		t.Errorf("schema-only pointer: ExtraKeys %v, err %v", p.ExtraKeys, err)
	}
	// Extra keys are not problems of the file.
	if _, _, problems := evidence.Inspect("", "", fixture(t, "pointers/older-denormalized.yaml")); len(problems) != 0 {
		t.Errorf("problems = %v, want none", problems)
	}
}

func TestParsePointerAttestationsShape(t *testing.T) {
	const top = "schemaVersion: 1.0.0\nrecipe: r\n"
	tests := []struct{ name, in string }{
		{"missing", top},
		{"null", top + "attestations: null\n"},
		{"empty", top + "attestations: []\n"},
		{"mapping", top + "attestations: {}\n"},
		{"scalar", top + "attestations: one\n"},
		{"two", strings.Replace(validPointer, "attestations:\n", "attestations:\n  - attestedAt: 2026-07-21T19:45:26Z\n    bundle: {oci: ghcr.io/a/b, digest: 'sha256:edc042d2e32d58bde9bb0e7cfdaa14568a13c144fdf0869958a4d582f3fc8cfc', predicateType: 'https://aicr.run/recipe-evidence/v1'}\n", 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := evidence.ParsePointer([]byte(tt.in))
			checkSchemaErr(t, err, "attestations")
		})
	}
}

func TestParsePointerRejectsDocuments(t *testing.T) {
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"comment only", "# nothing\n"},
		{"null", "null\n"},
		{"list", "- a\n- b\n"},
		{"scalar", "hello\n"},
		{"invalid yaml", "recipe: [\n"},
		{"tabs", "recipe:\n\t- x\n"},
		{"two documents", validPointer + "---\n" + validPointer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := evidence.ParsePointer([]byte(tt.in))
			if err == nil {
				t.Fatal("got no error, want one")
			}
			var se *evidence.SchemaError
			if !errors.As(err, &se) {
				t.Fatalf("got %T, want *evidence.SchemaError", err)
			}
		})
	}
}

func TestParsePointerTooLarge(t *testing.T) {
	in := validPointer + "#" + strings.Repeat("x", evidence.MaxPointerSize) + "\n"
	_, err := evidence.ParsePointer([]byte(in))
	if !errors.Is(err, evidence.ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
}

func FuzzParsePointer(f *testing.F) {
	addSeeds(f, "pointers")
	f.Add([]byte(validPointer))
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := evidence.ParsePointer(data)
		if err != nil {
			if p != nil {
				t.Fatal("got a pointer and an error")
			}
			return
		}
		if len(p.Attestations) != 1 {
			t.Fatalf("got %d attestations, want 1", len(p.Attestations))
		}
		if p.Recipe == "" || p.SchemaVersion == "" {
			t.Fatalf("accepted empty recipe or version: %+v", p)
		}
		a := p.Attestations[0]
		if !strings.HasPrefix(a.Bundle.Digest, "sha256:") || len(a.Bundle.Digest) != 71 {
			t.Fatalf("accepted digest %q", a.Bundle.Digest)
		}
		if a.Bundle.Repository() == "" {
			t.Fatalf("accepted oci %q", a.Bundle.OCI)
		}
		if a.AttestedAtRaw == "" || a.AttestedAt.IsZero() && !strings.HasPrefix(a.AttestedAtRaw, "0001-01-01") {
			t.Fatalf("accepted attestedAt %q", a.AttestedAtRaw)
		}
		if s := a.Signer; s != nil {
			if s.Identity == "" || s.Issuer == "" {
				t.Fatalf("accepted empty signer fields: %+v", s)
			}
			if s.RekorLogIndex != nil && *s.RekorLogIndex < 0 {
				t.Fatalf("accepted rekorLogIndex %d", *s.RekorLogIndex)
			}
		}
	})
}
