package main_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestVerifyOnePointer runs `verify` on pointer files of the demo world's
// checkout: the verdict, the exit code and the listed checks.
func TestVerifyOnePointer(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	w, built := demoWorld(t, now)
	tests := []struct {
		name, verdict, class string
		code                 int
		profile              string // the profile verify reports
		check, status        string // a check that must have this status
	}{
		{"good-h100-training", "verified", "", 0, "", "recipe-digest", "pass"},
		{"good-v2-profiled", "verified", "", 0, "gpuStack=bundle-installer", "profile", "pass"},
		{"pointer-extra-keys", "verified", "", 0, "", "pointer-keys", "warn"},
		{"perturbed-recipe-digest", "invalid", "integrity", 3, "", "recipe-digest", "fail"},
		{"wrong-log-index", "invalid", "identity", 3, "", "rekor-log-index", "fail"},
		{"wrong-signer", "invalid", "identity", 3, "", "", ""},
		{"misplaced-source", "invalid", "placement", 3, "", "", ""},
		{"deleted-bundle", "rekor-only", "", 3, "", "", ""},
		{"flaky-500", "no-verdict", "transient", 1, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := built.Pointer(tt.name)
			if p == nil {
				t.Fatalf("the demo catalogue has no case %q", tt.name)
			}
			r := run(t, nil, "verify", "-c", w.ConfigPath(), "--format", "json", filepath.Join(w.RepoDir(), p.Path))
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\nstdout %s\nstderr %s", r.code, tt.code, r.stdout, r.stderr)
			}
			var got struct {
				Verdict, Class, Detail string
				Profile                *string
				Checks                 []struct{ Name, Status, Detail string }
			}
			if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
				t.Fatalf("verify --format json: %v\n%s", err, r.stdout)
			}
			if got.Verdict != tt.verdict || got.Class != tt.class || got.Detail == "" || len(got.Checks) == 0 {
				t.Errorf("got %s/%s (%q) with %d checks, want %s/%s with checks", got.Verdict, got.Class, got.Detail, len(got.Checks), tt.verdict, tt.class)
			}
			switch {
			case got.Profile == nil && tt.profile != "":
				t.Errorf("profile = null, want %q", tt.profile)
			case got.Profile != nil && (*got.Profile == "" || *got.Profile != tt.profile):
				t.Errorf("profile = %q, want %q (null when none)", *got.Profile, tt.profile)
			}
			if tt.check != "" {
				status := "(absent)"
				for _, c := range got.Checks {
					if c.Name == tt.check {
						status = c.Status
					}
				}
				if status != tt.status {
					t.Errorf("check %s is %s, want %s (%+v)", tt.check, status, tt.status, got.Checks)
				}
			}
			if tt.profile != "" {
				text := run(t, nil, "verify", "-c", w.ConfigPath(), filepath.Join(w.RepoDir(), p.Path))
				if !strings.Contains(text.stdout, "(profile "+tt.profile+")") {
					t.Errorf("text output does not show the profile:\n%s", text.stdout)
				}
			}
		})
	}
}
