package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/evidence-auditd/evidence-auditd/internal/anchor"
	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/config"
	"github.com/evidence-auditd/evidence-auditd/internal/escape"
	"github.com/evidence-auditd/evidence-auditd/internal/job"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

func newRunCommand(g *globalFlags) *cobra.Command {
	var (
		repoPath, ref, asOf string
		deep, dryRun        bool
		only                []string
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Audit every merged pointer once, record the results in the ledger",
		Long: `run walks the merged history of the evidence directory, re-verifies every
pointer version's bundle from its OCI registry (a recent full verification is
reused after cheap existence probes unless --deep), records each result in the
ledger as it is decided, and prints a summary.

An interrupted run (killed, crashed) is resumed by the next run of the same
commit: finished pointers are not audited twice.

Exit codes: 0 healthy; 3 findings (rekor-only, invalid, or a recipe past the
expiry cutoff); 1 the audit could not complete; 2 usage or configuration.
no-verdict (registry or log unreachable) alone never exits 3.`,
		Example: `  # Audit a local clone with the public-good Sigstore root:
  evidence-auditd run --repo ~/src/aicr

  # Full cryptographic re-verification, ages measured at a future date:
  evidence-auditd run -c config.yaml --deep --as-of 2027-06-01T00:00:00Z

  # Only two recipes:
  evidence-auditd run -c config.yaml --only h100-eks-ubuntu-training --only gb200-gke-cos-training`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var at time.Time
			if asOf != "" {
				t, err := time.Parse(time.RFC3339, asOf)
				if err != nil {
					return usageErr(fmt.Errorf("--as-of %q: want RFC 3339, e.g. 2027-01-31T00:00:00Z", asOf))
				}
				at = t.UTC()
			}
			cfg, err := g.loadRepoConfig(repoPath, ref)
			if err != nil {
				return err
			}
			log := newLogger(cfg)
			out, err := newJob(cfg, log).Audit(cmd.Context(), job.Request{
				AsOf: at, WhatIf: !at.IsZero(), Deep: deep, Only: only, DryRun: dryRun, Progress: progressFor(os.Stderr, log),
			})
			if out != nil && out.Summary != nil {
				printRunSummary(cmd.OutOrStdout(), cfg, out)
			}
			if err != nil {
				return err
			}
			return outcomeError(out)
		},
	}
	cmd.Flags().StringVar(&repoPath, "repo", "", "local clone to audit (default: repo.path of the configuration)")
	cmd.Flags().StringVar(&ref, "ref", "", "branch whose merged history to audit (default: repo.ref, main)")
	cmd.Flags().StringVar(&asOf, "as-of", "", "measure ages at this RFC 3339 time (default: now)")
	cmd.Flags().BoolVar(&deep, "deep", false, "fully re-verify every bundle (no fast path)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "audit and record, but send no issue operations")
	cmd.Flags().StringArrayVar(&only, "only", nil, "audit only this recipe (repeatable); the run is recorded as partial")
	return cmd
}

// outcomeError maps a finished audit to its exit code (SPEC §4).
func outcomeError(out *job.Outcome) error {
	s := out.Summary
	if !s.Complete {
		return fmt.Errorf("run %d was interrupted; %d pointers recorded as no-verdict/canceled, the next run retries them",
			out.Run.ID, countClass(s.Results, audit.ClassCanceled))
	}
	if s.Findings() {
		return &findingsError{what: fmt.Sprintf("run %d", out.Run.ID)}
	}
	return nil
}

func countClass(rs []audit.Result, c audit.Class) int {
	n := 0
	for _, r := range rs {
		if r.Class == c {
			n++
		}
	}
	return n
}

// printRunSummary is run's human summary: counts, then what needs action,
// then what the issue phase did. Paths, recipes and details are escaped
// (SPEC §4): they come from the audited repository and its bundles.
func printRunSummary(w io.Writer, cfg *config.Config, out *job.Outcome) {
	s := out.Summary
	state := "complete"
	if !out.Run.Complete {
		state = "partial"
		if !s.Complete {
			state = "interrupted"
		}
	}
	if out.Run.Kind == ledger.KindWhatIf {
		state += ", what-if"
	}
	fmt.Fprintf(w, "Run %d (%s) of %s @ %s, as of %s, in %s\n", out.Run.ID, state, cfg.Repo.Ref, short(out.Run.Commit),
		out.Run.AsOf.Format(time.RFC3339), out.Duration.Round(time.Millisecond))
	if out.Resumed {
		fmt.Fprintln(w, "(resumed an interrupted run)")
	}
	if out.Run.Kind == ledger.KindWhatIf {
		fmt.Fprintln(w, "What-if run: ages measured as of the time asked for; issues planned, none sent; never the latest run or a baseline.")
	}
	if out.Degraded {
		fmt.Fprintf(w, "DEGRADED: the auditor could not decide %d of %d pointers (registry or log unreachable?); recipe statuses are mostly undetermined, and this run is no baseline.\n",
			s.ByVerdict[audit.NoVerdict], s.Pointers)
	}
	fmt.Fprintf(w, "\n%d pointer versions: ", s.Pointers)
	var parts []string
	for _, v := range audit.Verdicts {
		parts = append(parts, fmt.Sprintf("%d %s", s.ByVerdict[v], v))
	}
	fmt.Fprintln(w, strings.Join(parts, ", "))
	fmt.Fprintf(w, "ages: %d fresh, %d expiring, %d expired\n", s.ByAge[audit.AgeFresh], s.ByAge[audit.AgeExpiring], s.ByAge[audit.AgeExpired])
	printArchiveLine(w, cfg, s)

	var recert []audit.RecipeStatus
	for _, r := range s.Recipes {
		if r.NeedsRecert {
			recert = append(recert, r)
		}
	}
	if len(recert) > 0 {
		fmt.Fprintf(w, "\nRecipes needing re-certification (%d):\n", len(recert))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, r := range recert {
			at := "none"
			if !r.FreshestAttestedAt.IsZero() {
				at = r.FreshestAttestedAt.Format("2006-01-02")
			}
			fmt.Fprintf(tw, "  %s\t%s\tfreshest healthy attestation %s\n", escape.Line(r.Recipe), r.Reason, at)
		}
		tw.Flush()
	}

	var findings, retry []audit.Result
	for _, r := range s.Results {
		switch {
		case r.Verdict.Finding():
			findings = append(findings, r)
		case r.Verdict == audit.NoVerdict:
			retry = append(retry, r)
		}
	}
	sortResults(findings)
	sortResults(retry)
	if len(findings) > 0 {
		fmt.Fprintf(w, "\nFindings (%d):\n", len(findings))
		for _, r := range findings {
			fmt.Fprintf(w, "  %s\n    %s: %s\n", escape.Line(r.Key.Path), verdictLabel(r), escape.Line(r.Detail))
		}
	}
	if len(s.LogFindings) > 0 {
		fmt.Fprintf(w, "\nTransparency-log findings (%d):\n", len(s.LogFindings))
		for _, f := range s.LogFindings {
			fmt.Fprintf(w, "  %s\n", escape.Line(f))
		}
	}
	if len(retry) > 0 {
		fmt.Fprintf(w, "\nNo verdict, retried next run (%d):\n", len(retry))
		canceled := 0
		for _, r := range retry {
			if r.Class == audit.ClassCanceled {
				canceled++ // one line for all of them: an interrupt is one event
				continue
			}
			fmt.Fprintf(w, "  %s\n    %s: %s\n", escape.Line(r.Key.Path), verdictLabel(r), escape.Line(r.Detail))
		}
		if canceled > 0 {
			fmt.Fprintf(w, "  %d pointers not reached before the run was interrupted (no-verdict/canceled)\n", canceled)
		}
	}
	head := out.Run.LedgerHead
	if out.Anchor != nil {
		head = out.Anchor.Head // the run's seal: what the anchor carries
	}
	fmt.Fprintf(w, "\nLedger %s, chain head %s\n", cfg.Ledger.Path, orDash(head))
	fmt.Fprintln(w, anchorLine(out.Anchor))
	fmt.Fprintln(w, out.Issues)
}

func verdictLabel(r audit.Result) string {
	if r.Class == "" {
		return string(r.Verdict)
	}
	return string(r.Verdict) + "/" + string(r.Class)
}

func sortResults(rs []audit.Result) {
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].Key.Path != rs[j].Key.Path {
			return rs[i].Key.Path < rs[j].Key.Path
		}
		return rs[i].Key.AddedCommit < rs[j].Key.AddedCommit
	})
}

// anchorLine says where the run's anchor is and how it is signed and
// logged (SPEC §10).
func anchorLine(a *anchor.Anchor) string {
	if a == nil {
		return "Anchor: not written (see the warnings above); `evidence-auditd ledger verify` says what is missing"
	}
	where := a.NotePath
	if where == "" {
		where = "the ledger only"
	}
	line := "Anchor " + where + ": "
	if a.Signed() {
		line += "signed by " + a.Signature.By
	} else {
		line += "unsigned (no anchor.key, no OIDC token): it catches a rewrite of the ledger by anyone who cannot also rewrite the anchor files"
	}
	if a.Signature.LogIndex >= 0 {
		line += fmt.Sprintf("; logged at %s, index %d", a.Signature.LogURL, a.Signature.LogIndex)
	}
	return line
}
