package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/spf13/cobra"

	"github.com/evidence-auditd/evidence-auditd/internal/anchor"
	"github.com/evidence-auditd/evidence-auditd/internal/atomicfile"
	"github.com/evidence-auditd/evidence-auditd/internal/config"
	"github.com/evidence-auditd/evidence-auditd/internal/escape"
	"github.com/evidence-auditd/evidence-auditd/internal/job"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

func newLedgerCommand(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ledger",
		Short: "Check, export or migrate the SQLite ledger",
		Long: `The ledger is an append-only SQLite file: every audit result is chained to
the previous one by SHA-256, and every finished run is sealed over everything a
report is rendered from, so an edit, deletion or reordering is detectable. Each
run's seal is anchored outside the database (anchor.dir, optionally signed and
logged), so that a rewrite that recomputes every hash is detectable too.`,
		Args: unknownSubcommand,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageErr(errors.New("ledger: say verify, export or migrate (see --help)"))
		},
	}
	var ledgerPath string
	cmd.PersistentFlags().StringVar(&ledgerPath, "ledger", "", "ledger file (default: ledger.path of the configuration)")
	apply := func(c *config.Config) {
		if ledgerPath != "" {
			c.Ledger.Path = ledgerPath
		}
	}

	var offline bool
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Recompute the ledger and check it against its anchors; exit 3 naming the first damaged run",
		Long: `verify recomputes the result chain and every run's seal (which covers the
runs, recipe statuses, run inputs, pointer versions, the bundle cache and log
checkpoints), checks that run ids are contiguous, and compares every sealed run
with every anchor it can read: the anchor files (anchor.dir), the ledger's own
copies, and the transparency-log entries of logged anchors (read back from a
Rekor v1 log unless --offline). An interrupted run's rows are checked against
its progress mark. Signatures are checked with anchor.publicKey (or the public
half of anchor.key), keyless ones against the trusted root and, when set,
anchor.identity and anchor.issuer.

Exit codes: 0 intact; 3 damaged (the first damaged run is named, with the
anchor or check that shows it); 1 the ledger or the anchors cannot be read.`,
		Example: `  evidence-auditd ledger verify -c /etc/evidence-auditd/config.yaml
  evidence-auditd ledger verify --ledger ./evidence-auditd.db`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig(apply)
			if err != nil {
				return err
			}
			return runLedgerVerify(cmd.Context(), cmd.OutOrStdout(), cfg, !offline)
		},
	}
	verify.Flags().BoolVar(&offline, "offline", false, "do not read logged anchors back from their transparency log")

	var outPath string
	export := &cobra.Command{
		Use:   "export",
		Short: "Write the whole ledger as JSON Lines (runs, pointers, results, bundles, checkpoints, issues)",
		Example: `  evidence-auditd ledger export -c config.yaml -o ledger.jsonl
  evidence-auditd ledger export --ledger ./evidence-auditd.db | jq -c 'select(.type=="result")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutputDir(outPath); err != nil {
				return err
			}
			cfg, err := g.loadConfig(apply)
			if err != nil {
				return err
			}
			db, err := ledger.OpenReadOnly(cmd.Context(), cfg.Ledger.Path)
			if err != nil {
				return err
			}
			defer db.Close()
			return writeOutput(outPath, cmd.OutOrStdout(), func(w io.Writer) error {
				return db.Export(cmd.Context(), w)
			})
		},
	}
	export.Flags().StringVarP(&outPath, "output", "o", "", "write to FILE instead of stdout")

	migrate := &cobra.Command{
		Use:   "migrate",
		Short: "Create the ledger or bring its schema up to date",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig(apply)
			if err != nil {
				return err
			}
			db, err := ledger.Open(cmd.Context(), cfg.Ledger.Path)
			if err != nil {
				return err
			}
			defer db.Close()
			cur, latest, err := db.SchemaVersion(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ledger %s: schema version %d (latest %d)\n", cfg.Ledger.Path, cur, latest)
			return nil
		},
	}
	cmd.AddCommand(verify, export, migrate)
	return cmd
}

// runLedgerVerify prints the verdict on the ledger and its anchors; damage
// is a finding (exit 3), an unreadable ledger an operational error (exit 1).
func runLedgerVerify(ctx context.Context, out io.Writer, cfg *config.Config, online bool) error {
	path := cfg.Ledger.Path
	db, err := ledger.OpenReadOnly(ctx, path)
	if err != nil {
		return err
	}
	defer db.Close()
	trust, err := anchorTrust(ctx, cfg, needsRoot(ctx, db))
	if err != nil {
		return err
	}
	opts := anchor.CheckOptionsFromConfig(cfg, trust)
	if !online {
		opts.LogReader = nil
	}
	rep, err := anchor.Check(ctx, db, opts)
	if err != nil {
		return fmt.Errorf("verify ledger %s: %w", path, err)
	}
	lrep := rep.Ledger
	if rep.OK() {
		head := "(empty chain)"
		if n := len(lrep.Seals); n > 0 {
			head = lrep.Seals[n-1].Head + fmt.Sprintf(" (run %d's seal)", lrep.Seals[n-1].RunID)
		} else if lrep.Head != "" {
			head = lrep.Head
		}
		fmt.Fprintf(out, "ledger %s: OK, %d result rows, %d runs (%d sealed), head %s\n", path, lrep.Rows, lrep.Runs, len(lrep.Seals), head)
	} else {
		b := rep.FirstBad
		if b.Seq > 0 {
			fmt.Fprintf(out, "ledger %s: BROKEN at result row seq=%d (run %d", path, b.Seq, b.RunID)
			if lb := lrep.FirstBad; lb != nil && lb.Seq == b.Seq && lb.Path != "" {
				fmt.Fprintf(out, ", %s", escape.Line(lb.Path))
			}
			fmt.Fprintf(out, "): %s\n", escape.Line(b.Reason))
		} else {
			fmt.Fprintf(out, "ledger %s: BROKEN at run %d (%s): %s\n", path, b.RunID, b.Source, escape.Line(b.Reason))
		}
		for _, f := range rep.Faults {
			if f != b {
				fmt.Fprintf(out, "  also: %s\n", escape.Line(f.String()))
			}
		}
	}
	printAnchors(out, cfg.Anchor.Dir, rep)
	for _, n := range rep.Notes {
		fmt.Fprintf(out, "  note: %s\n", escape.Line(n))
	}
	if !rep.OK() {
		return &findingsError{what: fmt.Sprintf("ledger damaged at run %d", rep.FirstBad.RunID)}
	}
	return nil
}

// printAnchors says how many runs are anchored and how the newest is.
func printAnchors(out io.Writer, dir string, rep *anchor.Report) {
	n := rep.Newest()
	if n == nil {
		fmt.Fprintf(out, "anchors: none (%s)\n", dir)
		return
	}
	fmt.Fprintf(out, "anchors: %d runs anchored in %s; newest: run %d, %s\n", len(rep.Anchors), dir, n.RunID, describeRunAnchor(n))
}

// describeRunAnchor says who signed an anchor, where it was read and where
// it was logged.
func describeRunAnchor(a *anchor.RunAnchor) string {
	by := a.By
	if by == "" {
		by = "unsigned"
	} else {
		by = "signed by " + by
	}
	out := fmt.Sprintf("%s, read from %s", by, strings.Join(a.Sources, ", "))
	if a.LogIndex >= 0 {
		out += fmt.Sprintf("; logged at index %d", a.LogIndex)
		if a.LogURL != "" {
			out += " of " + a.LogURL
		}
	}
	return out
}

// needsRoot reports whether some anchor of db carries a Sigstore bundle
// (keyless or logged): only then is the trusted root worth loading, which
// for the public-good root means its TUF repository.
func needsRoot(ctx context.Context, db *ledger.DB) bool {
	as, err := db.Anchors(ctx)
	if err != nil {
		return false
	}
	for _, a := range as {
		if len(a.Bundle) > 0 {
			return true
		}
	}
	return false
}

// anchorTrust is what anchors and reports are checked against. With
// loadRoot, the configured trusted root is loaded (the public-good one
// through its TUF cache, refreshed when reachable); a root that cannot be
// loaded leaves keyless and logged signatures unchecked, said in the notes.
func anchorTrust(ctx context.Context, cfg *config.Config, loadRoot bool) (anchor.Trust, error) {
	var tm root.TrustedMaterial
	rootErr := errors.New("the trusted root was not loaded")
	if loadRoot {
		if v, err := job.NewVerifier(ctx, cfg); err != nil {
			rootErr = err
		} else {
			tm, rootErr = v.TrustedMaterial(), nil
		}
	}
	t, err := anchor.TrustFromConfig(cfg, tm, rootErr)
	if err != nil {
		return anchor.Trust{}, usageErr(err)
	}
	return t, nil
}

// writeOutput writes through fn to path (atomically) or, when path is
// empty, to stdout.
func writeOutput(path string, stdout io.Writer, fn func(io.Writer) error) error {
	if path == "" {
		bw := bufio.NewWriter(stdout)
		if err := fn(bw); err != nil {
			return err
		}
		return bw.Flush()
	}
	return atomicfile.Write(path, 0o644, fn)
}

// checkOutputDir refuses an -o whose directory does not exist before any
// work is done: a mistyped path is a usage error (exit 2), not a failure
// after rendering.
func checkOutputDir(path string) error {
	if path == "" {
		return nil
	}
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case err != nil:
		return usageErr(fmt.Errorf("-o %s: directory %s: %w", path, dir, err))
	case !fi.IsDir():
		return usageErr(fmt.Errorf("-o %s: %s is not a directory", path, dir))
	}
	return nil
}
