package evidence_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
)

const (
	actions = "https://token.actions.githubusercontent.com"
	oauth   = "https://github.com/login/oauth"
)

func TestAllowlistClassifyReal(t *testing.T) {
	a, err := evidence.ParseAllowlist(fixture(t, "pointers/allowlist.yaml"))
	if err != nil {
		t.Fatalf("ParseAllowlist: %v", err)
	}
	if got, want := len(a.FirstParty)+len(a.Community)+len(a.Partner), 3; got != want {
		t.Fatalf("entries: got %d, want %d", got, want)
	}
	if got, want := a.FirstParty[0].Label, "aicr-uat-aws"; got != want {
		t.Errorf("label: got %q, want %q", got, want)
	}
	signerOf := func(file string) (string, string) {
		p, err := evidence.ParsePointer(fixture(t, "pointers/"+file))
		if err != nil {
			t.Fatal(err)
		}
		return p.Attestations[0].Signer.Issuer, p.Attestations[0].Signer.Identity
	}
	v1Issuer, v1Identity := signerOf("per-source-v1.yaml")
	v2Issuer, v2Identity := signerOf("per-source-v2-profile.yaml")
	tests := []struct {
		name, issuer, identity string
		want                   evidence.SignerClass
	}{
		{"per-source-v1 signer listed by source", v1Issuer, v1Identity, evidence.SignerCommunity},
		{"per-source-v2 signer not listed", v2Issuer, v2Identity, evidence.SignerUnlisted},
		{"first-party workflow", actions, "https://github.com/NVIDIA/aicr/.github/workflows/uat-aws.yaml@refs/heads/main", evidence.SignerFirstParty},
		{"first-party workflow, other issuer", oauth, "https://github.com/NVIDIA/aicr/.github/workflows/uat-aws.yaml@refs/heads/main", evidence.SignerUnlisted},
		{"fork of the first-party workflow", actions, "https://github.com/evil/aicr/.github/workflows/uat-aws.yaml@refs/heads/main", evidence.SignerUnlisted},
		{"pattern is anchored at the start", actions, "x https://github.com/NVIDIA/aicr/.github/workflows/uat-aws.yaml@refs/heads/main", evidence.SignerUnlisted},
		{"tag instead of branch", actions, "https://github.com/NVIDIA/aicr/.github/workflows/uat-aws.yaml@refs/tags/v1", evidence.SignerUnlisted},
		{"same identity, other issuer changes the slug", oauth, v1Identity, evidence.SignerUnlisted},
		{"nobody", oauth, "someone@example.com", evidence.SignerUnlisted},
	}
	for _, tt := range tests {
		if got := a.Classify(tt.issuer, tt.identity); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
	var nilList *evidence.Allowlist
	if got := nilList.Classify(v1Issuer, v1Identity); got != evidence.SignerUnlisted {
		t.Errorf("nil allowlist: got %q, want unlisted", got)
	}
}

func TestAllowlistPrecedence(t *testing.T) {
	slug := evidence.SourceSlug(oauth, "dev@example.com")
	entry := "  - issuer: " + oauth + "\n    source: " + slug + "\n"
	tests := []struct {
		name, lists string
		want        evidence.SignerClass
	}{
		{"first-party beats community", "community:\n" + entry + "firstParty:\n" + entry, evidence.SignerFirstParty},
		{"first-party beats partner", "partner:\n" + entry + "firstParty:\n" + entry, evidence.SignerFirstParty},
		{"partner beats community", "community:\n" + entry + "partner:\n" + entry, evidence.SignerPartner},
		{"community alone", "community:\n" + entry + "partner: []\nfirstParty: null\n", evidence.SignerCommunity},
	}
	for _, tt := range tests {
		a, err := evidence.ParseAllowlist([]byte("schemaVersion: 1.0.0\n" + tt.lists))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := a.Classify(oauth, "dev@example.com"); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestParseAllowlistRejects(t *testing.T) {
	const head = "schemaVersion: 1.0.0\nfirstParty:\n  - issuer: " + actions + "\n"
	tests := []struct{ name, in, field string }{
		{"both source and pattern", head + "    source: 5bf9e82f0e90a11528ac85f4bcb866c8\n    identityPattern: '^a$'\n", "firstParty[0]"},
		{"neither", head + "    label: x\n", "firstParty[0]"},
		{"missing issuer", "schemaVersion: 1.0.0\ncommunity:\n  - source: 5bf9e82f0e90a11528ac85f4bcb866c8\n", "community[0].issuer"},
		{"short source", head + "    source: 5bf9e82f\n", "firstParty[0].source"},
		{"uppercase source", head + "    source: 5BF9E82F0E90A11528AC85F4BCB866C8\n", "firstParty[0].source"},
		{"unanchored start", head + "    identityPattern: 'https://github\\.com/.*$'\n", "firstParty[0].identityPattern"},
		{"unanchored end", head + "    identityPattern: '^https://github\\.com/.*'\n", "firstParty[0].identityPattern"},
		{"escaped dollar", head + "    identityPattern: '^a\\$'\n", "firstParty[0].identityPattern"},
		{"alternation escapes anchors", head + "    identityPattern: '^a|b$'\n", "firstParty[0].identityPattern"},
		{"multi-line flag", head + "    identityPattern: '(?m)^a$'\n", "firstParty[0].identityPattern"},
		{"optional anchor", head + "    identityPattern: '^a$?'\n", "firstParty[0].identityPattern"},
		{"bad regexp", head + "    identityPattern: '^(a$'\n", "firstParty[0].identityPattern"},
		{"unknown entry key", head + "    source: 5bf9e82f0e90a11528ac85f4bcb866c8\n    note: x\n", "firstParty[0].note"},
		{"unknown list", "schemaVersion: 1.0.0\nvendors: []\n", "vendors"},
		{"list is a mapping", "schemaVersion: 1.0.0\npartner: {}\n", "partner"},
		{"missing schemaVersion", "community: []\n", "schemaVersion"},
		{"bad schemaVersion", "schemaVersion: 2\n", "schemaVersion"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := evidence.ParseAllowlist([]byte(tt.in))
			if tt.field == "" {
				if err == nil {
					t.Fatal("got no error, want one")
				}
				return
			}
			checkSchemaErr(t, err, tt.field)
		})
	}
}

func TestParseAllowlistAccepts(t *testing.T) {
	const head = "schemaVersion: 1.0\npartner:\n  - issuer: " + actions + "\n"
	for _, pat := range []string{`^a$`, `^a$|^b$`, `^(?:a|b)$`, `^(a|b)$`, `^(?i)a$`} {
		a, err := evidence.ParseAllowlist([]byte(head + "    identityPattern: '" + pat + "'\n"))
		if err != nil {
			t.Errorf("pattern %s: %v", pat, err)
			continue
		}
		if got := a.Classify(actions, "a"); got != evidence.SignerPartner {
			t.Errorf("pattern %s: got %q, want partner", pat, got)
		}
		if got := a.Classify(actions, "xa"); got != evidence.SignerUnlisted {
			t.Errorf("pattern %s matched xa: got %q", pat, got)
		}
	}
}

func TestParseAllowlistTooLarge(t *testing.T) {
	_, err := evidence.ParseAllowlist([]byte("#" + strings.Repeat("x", evidence.MaxAllowlistSize)))
	if !errors.Is(err, evidence.ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
}

func FuzzParseAllowlist(f *testing.F) {
	f.Add(fixture(f, "pointers/allowlist.yaml"))
	f.Add([]byte("schemaVersion: 1.0.0\npartner:\n  - issuer: x\n    identityPattern: '^a$|^b$'\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := evidence.ParseAllowlist(data)
		if err != nil {
			return
		}
		for _, list := range [][]evidence.AllowlistEntry{a.FirstParty, a.Community, a.Partner} {
			for _, e := range list {
				if e.Issuer == "" || (e.Source == "") == (e.IdentityPattern == "") {
					t.Fatalf("accepted entry %+v", e)
				}
				if e.Source != "" && !evidence.IsSourceSlug(e.Source) {
					t.Fatalf("accepted source %q", e.Source)
				}
				if e.IdentityPattern != "" && (!strings.HasPrefix(e.IdentityPattern, "^") || !strings.HasSuffix(e.IdentityPattern, "$")) {
					t.Fatalf("accepted pattern %q", e.IdentityPattern)
				}
			}
		}
		// Classification is total: any signer gets a defined class.
		switch c := a.Classify("x", string(data)); c {
		case evidence.SignerFirstParty, evidence.SignerCommunity, evidence.SignerPartner, evidence.SignerUnlisted:
		default:
			t.Fatalf("got class %q", c)
		}
	})
}
