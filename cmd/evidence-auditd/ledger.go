package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/evidence-auditd/evidence-auditd/internal/atomicfile"
	"github.com/evidence-auditd/evidence-auditd/internal/config"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

func newLedgerCommand(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ledger",
		Short: "Check, export or migrate the SQLite ledger",
		Long: `The ledger is an append-only SQLite file: every audit result is chained to
the previous one by SHA-256, so an edit, deletion or reordering is detectable.`,
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

	verify := &cobra.Command{
		Use:   "verify",
		Short: "Recompute the hash chain; exit 3 naming the first broken row",
		Example: `  evidence-auditd ledger verify -c /etc/evidence-auditd/config.yaml
  evidence-auditd ledger verify --ledger ./evidence-auditd.db`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig(apply)
			if err != nil {
				return err
			}
			return runLedgerVerify(cmd.Context(), cmd.OutOrStdout(), cfg.Ledger.Path)
		},
	}

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

// runLedgerVerify prints the verdict on the chain; a broken chain is a
// finding (exit 3), an unreadable ledger an operational error (exit 1).
func runLedgerVerify(ctx context.Context, out io.Writer, path string) error {
	db, err := ledger.OpenReadOnly(ctx, path)
	if err != nil {
		return err
	}
	defer db.Close()
	rep, err := db.Verify(ctx)
	if err != nil {
		return fmt.Errorf("verify ledger %s: %w", path, err)
	}
	if rep.OK {
		head := rep.Head
		if head == "" {
			head = "(empty chain)"
		}
		fmt.Fprintf(out, "ledger %s: OK, %d result rows, chain head %s\n", path, rep.Rows, head)
		return nil
	}
	b := rep.FirstBad
	fmt.Fprintf(out, "ledger %s: BROKEN at result row seq=%d (run %d", path, b.Seq, b.RunID)
	if b.Path != "" {
		fmt.Fprintf(out, ", %s", b.Path)
	}
	fmt.Fprintf(out, "): %s\n", b.Reason)
	return &findingsError{what: fmt.Sprintf("ledger chain broken at seq %d", b.Seq)}
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
