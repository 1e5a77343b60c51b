package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/escape"
	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
	"github.com/evidence-auditd/evidence-auditd/internal/job"
)

func newVerifyCommand(g *globalFlags) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "verify POINTER.yaml",
		Short: "Verify one pointer file now and list every check (the ledger is untouched)",
		Long: `verify runs the same checks as an audit on one pointer file: schema, placement
(when the file sits under recipes/evidence/ in a checkout), registry fetch by
digest, Sigstore signature, certificate identity, transparency-log proof,
subject digest, predicate and file inventory. Nothing is recorded.

Exit codes: 0 verified (or verified-with-failures), 3 a finding, 1 no verdict
(registry or log unreachable), 2 usage.`,
		Example: `  evidence-auditd verify recipes/evidence/h100-eks-ubuntu-training/5bf9…/sha256-edc0….yaml
  evidence-auditd verify -c config.yaml pointer.yaml --format json | jq '.checks[] | select(.status=="fail")'`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr(fmt.Errorf("verify takes exactly one pointer file, got %d arguments", len(args)))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return usageErr(fmt.Errorf("--format %q: want text or json", format))
			}
			cfg, err := g.loadConfig(nil)
			if err != nil {
				return err
			}
			data, err := readPointerFile(args[0])
			if err != nil {
				return usageErr(err)
			}
			ctx := cmd.Context()
			verifier, err := job.NewVerifier(ctx, cfg)
			if err != nil {
				return err
			}
			source, err := job.NewRegistryClient(cfg, "evidence-auditd/"+version, nil)
			if err != nil {
				return err
			}
			v := audit.PointerVersion{
				Key:     audit.VersionKey{Path: repoRelative(args[0], cfg.Repo.EvidenceDir)},
				Content: data,
			}
			// The log fallback without a store: no ledger cache is read and
			// no checkpoint recorded (verify leaves the ledger untouched).
			tlog, err := job.NewRekor(cfg, verifier, "evidence-auditd/"+version, nil)
			if err != nil {
				return usageErr(err)
			}
			runner := &audit.Runner{Source: source, Verifier: verifier, Fallback: tlog}
			res := runner.Audit(ctx, v, audit.Options{EvidenceDir: cfg.Repo.EvidenceDir, Policy: job.Policy(cfg)})
			res.Key.Path = args[0]
			// The profile as the pointer names it; the profile check has
			// bound it to the signed predicate.profile.selection.
			info, _ := audit.Describe(v, cfg.Repo.EvidenceDir, nil)
			out := cmd.OutOrStdout()
			if format == "json" {
				err = writeJSON(out, verifyJSON(res, info.Profile))
			} else {
				err = writeVerifyText(out, res, info.Profile)
			}
			if err != nil {
				return err
			}
			switch {
			case res.Verdict.Finding():
				return &findingsError{what: string(res.Verdict)}
			case res.Verdict == audit.NoVerdict:
				return fmt.Errorf("no verdict: %s", res.Detail)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}

func readPointerFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, evidence.MaxPointerSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > evidence.MaxPointerSize {
		return nil, fmt.Errorf("%s: larger than %d bytes, not a pointer", path, evidence.MaxPointerSize)
	}
	return data, nil
}

// repoRelative returns the repository path of a pointer file when it sits
// under the evidence directory of a checkout, so placement can be checked;
// otherwise "" (placement unknown).
func repoRelative(path, evidenceDir string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return ""
	}
	slash := filepath.ToSlash(abs)
	if i := strings.LastIndex(slash, "/"+evidenceDir+"/"); i >= 0 {
		return slash[i+1:]
	}
	return ""
}

// verifyReport is `verify --format json` (SPEC §4).
type verifyReport struct {
	Path             string                       `json:"path"`
	Recipe           string                       `json:"recipe"`
	Profile          *string                      `json:"profile"` // the pointer's profile selection; null when none
	Verdict          audit.Verdict                `json:"verdict"`
	Class            audit.Class                  `json:"class"`
	Detail           string                       `json:"detail"`
	Hint             string                       `json:"hint,omitempty"`
	BundleDigest     string                       `json:"bundleDigest"`
	RekorLogIndex    *int64                       `json:"rekorLogIndex"`
	AttestedAt       *time.Time                   `json:"attestedAt"`
	AttestedAtSource audit.TimeSource             `json:"attestedAtSource"`
	Age              audit.Age                    `json:"age"`
	Phases           map[string]audit.PhaseCounts `json:"phases,omitempty"`
	Checks           []audit.Check                `json:"checks"`
}

func verifyJSON(r audit.Result, profile string) verifyReport {
	out := verifyReport{
		Path: r.Key.Path, Recipe: r.Recipe, Verdict: r.Verdict, Class: r.Class, Detail: r.Detail, Hint: r.Hint,
		BundleDigest: r.BundleDigest, AttestedAtSource: r.AttestedAtSource, Age: r.Age, Phases: r.Phases, Checks: r.Checks,
	}
	if r.RekorLogIndex >= 0 {
		idx := r.RekorLogIndex
		out.RekorLogIndex = &idx
	}
	if !r.AttestedAt.IsZero() {
		at := r.AttestedAt
		out.AttestedAt = &at
	}
	if profile != "" {
		out.Profile = &profile
	}
	if out.Checks == nil {
		out.Checks = []audit.Check{}
	}
	return out
}

// writeVerifyText prints one pointer's result; every string of it is
// escaped (SPEC §4), the file's own path included.
func writeVerifyText(w io.Writer, r audit.Result, profile string) error {
	fmt.Fprintf(w, "%s\n", escape.Line(r.Key.Path))
	if r.Recipe != "" {
		recipe := r.Recipe
		if profile != "" {
			recipe += " (profile " + profile + ")"
		}
		fmt.Fprintf(w, "  recipe:  %s\n", escape.Line(recipe))
	}
	fmt.Fprintf(w, "  verdict: %s\n  detail:  %s\n", verdictLabel(r), escape.Line(r.Detail))
	if r.Hint != "" {
		fmt.Fprintf(w, "  hint:    %s\n", escape.Line(r.Hint))
	}
	if !r.AttestedAt.IsZero() {
		fmt.Fprintf(w, "  age:     %s (from the %s timestamp %s)\n", r.Age, r.AttestedAtSource, r.AttestedAt.Format(time.RFC3339))
	}
	fmt.Fprintln(w, "\nchecks:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range r.Checks {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", c.Status, escape.Line(c.Name), escape.Line(c.Detail))
	}
	return tw.Flush()
}
