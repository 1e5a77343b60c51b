package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/evidence-auditd/evidence-auditd/internal/anchor"
	"github.com/evidence-auditd/evidence-auditd/internal/config"
	"github.com/evidence-auditd/evidence-auditd/internal/escape"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
	"github.com/evidence-auditd/evidence-auditd/internal/report"
)

func newReportCommand(g *globalFlags) *cobra.Command {
	var ledgerPath, runFlag, format, outPath string
	var sign bool
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Render a compliance snapshot of one run from the ledger (no network)",
		Long: `report renders one audit run as recorded in the ledger — run metadata, the
chain head, per-recipe re-certification status, every pointer's verdict and
age, and the changes since the previous complete run — without touching the
network or the repository.

Formats: markdown (default; readable as a GitHub comment), json (the machine
contract, schema in docs/report.schema.json), csv (one row per pointer) and
html (one self-contained, printable page).

With --sign (and -o FILE), the report is also signed: FILE.sigstore.json is a
Sigstore bundle over an in-toto statement whose subject is FILE's sha256 and
whose predicate (https://evidence-auditd.dev/compliance-snapshot/v1) names the
run, its kind, as-of time, repository, commit, trusted root, ledger head,
anchor and summary. It is signed with anchor.key, or keyless through
Fulcio where an OIDC token is available, and logged to anchor.log when set;
only a sealed run of a ledger that holds up against its anchors is signed.
evidence-auditd verify-report and cosign verify-blob-attestation check it.

--run latest (the default) is the newest complete run; newer runs that are
unfinished (in progress or killed) or were canceled are skipped with a note on
stderr. Such a run can still be rendered by id, marked incomplete.

The document alone goes to stdout, or atomically to -o FILE; diagnostics go to
stderr. Exit codes: 0 rendered; 1 the ledger cannot be read, holds no run, or
has no complete run for latest; 2 usage or configuration error, including a
run id that does not exist.`,
		Example: `  # Markdown snapshot of the latest complete run:
  evidence-auditd report -c /etc/evidence-auditd/config.yaml

  # The machine contract, for a given run:
  evidence-auditd report --ledger ./evidence-auditd.db --run 7 --format json | jq .summary

  # A printable page:
  evidence-auditd report -c config.yaml --format html -o snapshot.html

  # A signed snapshot (snapshot.md and snapshot.md.sigstore.json):
  evidence-auditd report -c config.yaml -o snapshot.md --sign`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := report.ParseFormat(format)
			if err != nil {
				return usageErr(fmt.Errorf("--format: %w", err))
			}
			runID, err := parseRunFlag(runFlag)
			if err != nil {
				return usageErr(err)
			}
			if err := checkOutputDir(outPath); err != nil {
				return err
			}
			if sign && outPath == "" {
				return usageErr(errors.New("--sign needs -o FILE: the signature is over the report file, written beside it as FILE.sigstore.json"))
			}
			cfg, err := g.loadConfig(func(c *config.Config) {
				if ledgerPath != "" {
					c.Ledger.Path = ledgerPath
				}
			})
			if err != nil {
				return err
			}
			return runReport(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), cfg, runID, f, outPath, sign)
		},
	}
	cmd.Flags().BoolVar(&sign, "sign", false, "also write FILE.sigstore.json, a signed compliance snapshot of the report (needs -o)")
	cmd.Flags().StringVar(&ledgerPath, "ledger", "", "ledger file (default: ledger.path of the configuration)")
	cmd.Flags().StringVar(&runFlag, "run", "latest", "run id, or latest (the newest complete run)")
	cmd.Flags().StringVar(&format, "format", "markdown", "output format: markdown, json, csv or html")
	cmd.Flags().StringVarP(&outPath, "output", "o", "", "write to FILE (atomically) instead of stdout")
	return cmd
}

// parseRunFlag returns the run id --run names; 0 means latest.
func parseRunFlag(s string) (int64, error) {
	if strings.EqualFold(s, "latest") {
		return 0, nil
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 {
		return 0, fmt.Errorf("--run %q: want a run id (a positive integer) or latest", s)
	}
	return id, nil
}

// runReport loads the snapshot of run runID (0: latest) and writes it.
//
// An id that does not exist is a usage error (exit 2): the ledger is fine
// and the same command can only succeed once the argument changes, whereas
// exit 1 says the ledger or the system could not deliver (unreadable file,
// nothing recorded yet).
func runReport(ctx context.Context, stdout, stderr io.Writer, cfg *config.Config, runID int64, f report.Format, outPath string, sign bool) error {
	path := cfg.Ledger.Path
	db, err := ledger.OpenReadOnly(ctx, path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("open ledger %s: no ledger there (has a run been recorded? see evidence-auditd run)", path)
	}
	if err != nil {
		return err
	}
	defer db.Close()

	if runID == 0 {
		id, skipped, err := report.Latest(ctx, db)
		for _, r := range skipped {
			fmt.Fprintf(stderr, "evidence-auditd: note: run %d is %s; latest is the newest complete run (render it with --run %d)\n",
				r.ID, report.RunState(r), r.ID)
		}
		if err != nil {
			return reportLoadErr(path, err)
		}
		runID = id
	}
	snap, err := report.Load(ctx, db, runID)
	if err != nil {
		return reportLoadErr(path, err)
	}
	// The ledger's own chain verified (Load); its anchors, kept outside
	// it, must agree up to this run too, or the report is not rendered as
	// sound (SPEC §6, §10). Offline: no log is read.
	var checked *anchor.Report
	if snap.Run.LedgerVerified {
		trust, err := anchorTrust(ctx, cfg, cfg.Trust.TrustedRoot != "" && needsRoot(ctx, db))
		if err != nil {
			return err
		}
		if checked, err = anchor.Check(ctx, db, anchor.CheckOptions{Dir: cfg.Anchor.Dir, Trust: trust}); err != nil {
			return fmt.Errorf("check the anchors of %s: %w", path, err)
		}
		if b := checked.FirstBad; b != nil && b.RunID <= snap.Run.ID {
			snap.MarkUnverified(fmt.Sprintf("the ledger does not match its anchors — %s (evidence-auditd ledger verify)", b))
		}
	}
	for _, n := range snap.Notes {
		fmt.Fprintln(stderr, "evidence-auditd: note:", escape.Line(n))
	}
	if err := writeOutput(outPath, stdout, func(w io.Writer) error { return report.Render(w, snap, f, linksFrom(outPath)) }); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if outPath != "" {
		fmt.Fprintf(stderr, "evidence-auditd: wrote the %s report of run %d to %s\n", f, snap.Run.ID, outPath)
	}
	if !snap.Run.LedgerVerified {
		// Rendered, so that the damage can be inspected, but marked in the
		// document and failed here: never passed off as sound (SPEC §6).
		fmt.Fprintf(stderr, "evidence-auditd: do not rely on this report: %s\n", escape.Line(snap.Run.LedgerProblem))
		if sign {
			fmt.Fprintln(stderr, "evidence-auditd: not signed: a report of a ledger that does not verify is never signed")
		}
		return &findingsError{what: "ledger " + path + " does not verify"}
	}
	if sign {
		return signReport(ctx, stderr, cfg, db, snap, f, outPath, checked)
	}
	return nil
}

// linksFrom makes a report's links to issue files relative to where it is
// read: the directory of -o FILE, or the working directory for stdout (a
// report is usually redirected there).
func linksFrom(outPath string) report.Option {
	dir := filepath.Dir(outPath)
	if outPath == "" {
		dir = "."
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return report.LinksFrom(dir)
}

// reportLoadErr words a load failure and picks its exit code.
func reportLoadErr(path string, err error) error {
	switch {
	case errors.Is(err, report.ErrNoRuns):
		return fmt.Errorf("ledger %s: %w yet; nothing to report (record one with evidence-auditd run)", path, err)
	case errors.Is(err, report.ErrUnknownRun):
		return usageErr(fmt.Errorf("ledger %s: %w", path, err))
	case errors.Is(err, report.ErrNoCompleteRun):
		return fmt.Errorf("ledger %s: %w", path, err)
	}
	return fmt.Errorf("report from ledger %s: %w", path, err)
}

// writeReports writes the snapshot of the newest complete run in every
// format into dir (report.md, .json, .csv, .html) and returns the paths by
// format name, for demo. It opens the ledger read-only.
func writeReports(ctx context.Context, ledgerPath, dir string) (map[string]string, error) {
	db, err := ledger.OpenReadOnly(ctx, ledgerPath)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	id, _, err := report.Latest(ctx, db)
	if err != nil {
		return nil, reportLoadErr(ledgerPath, err)
	}
	snap, err := report.Load(ctx, db, id)
	if err != nil {
		return nil, reportLoadErr(ledgerPath, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return report.WriteAll(snap, dir)
}
