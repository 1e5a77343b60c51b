package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newIssuesCommand(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "issues",
		Short: "File, update and close re-certification issues (GitHub or Markdown files)",
		Args:  unknownSubcommand,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var dryRun bool
	sync := &cobra.Command{
		Use:   "sync",
		Short: "Re-apply the latest complete run's issue plan (e.g. after the tracker was down)",
		Long: `sync plans the issue operations for the latest complete run recorded in the
ledger — open, update, reopen, close — and sends them to the configured sink
(issues.sink). With --dry-run it prints the plan and sends nothing.

Operations that fail (rate limits, 5xx) stay in the ledger's journal and are
planned again by the next run or sync; issues.maxPerRun caps each sync.

sync takes the ledger's audit lock, as run and serve do: while another
process audits or files issues, it waits (interrupt to give up), so that no
operation is ever sent twice.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig(nil)
			if err != nil {
				return err
			}
			plan, sum, err := newJob(cfg, newLogger(cfg)).SyncIssues(cmd.Context(), dryRun)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			plan.Print(w)
			fmt.Fprintln(w, sum)
			return nil
		},
	}
	sync.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan, send nothing")
	cmd.AddCommand(sync)
	return cmd
}
