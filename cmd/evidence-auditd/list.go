package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/escape"
	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
	"github.com/evidence-auditd/evidence-auditd/internal/history"
	"github.com/evidence-auditd/evidence-auditd/internal/job"
)

func newListCommand(g *globalFlags) *cobra.Command {
	var repoPath, ref, format string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Inventory every pointer version ever merged (no network, no ledger)",
		Long: `list walks the first-parent history of the audited branch and prints every
version of every pointer file ever merged under the evidence directory, with
the commit that added it, the commit that removed or replaced it, and any
problem the file has by itself (schema, placement, legacy-predicate,
unsigned). It reads only the local repository.`,
		Example: `  evidence-auditd list --repo ~/src/aicr
  evidence-auditd list --repo ~/src/aicr --ref release-1.2 --format json | jq '.[] | select(.problems != [])'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "table" && format != "json" {
				return usageErr(fmt.Errorf("--format %q: want table or json", format))
			}
			cfg, err := g.loadRepoConfig(repoPath, ref)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			repo, err := job.OpenRepo(ctx, cfg, true)
			if err != nil {
				return err
			}
			defer repo.Close()
			delta, err := repo.Walk(ctx, history.Options{Ref: cfg.Repo.Ref, EvidenceDir: cfg.Repo.EvidenceDir})
			if err != nil {
				return job.WalkError(cfg.Repo.Ref, err)
			}
			log := newLogger(cfg)
			allow := job.ParseAllowlist(job.AllowlistBytes(ctx, repo, cfg, delta.Head, log), cfg.Repo.EvidenceDir+"/"+evidence.AllowlistFile, log)
			infos := make([]audit.PointerInfo, 0, len(delta.Added))
			for _, v := range delta.Added {
				info, _ := audit.Describe(v, cfg.Repo.EvidenceDir, allow)
				infos = append(infos, info)
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				return writeJSON(out, infos)
			}
			return writeListTable(out, infos)
		},
	}
	cmd.Flags().StringVar(&repoPath, "repo", "", "local clone to read (default: repo.path of the configuration)")
	cmd.Flags().StringVar(&ref, "ref", "", "branch whose merged history to list (default: repo.ref, main)")
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	return cmd
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeListTable prints the inventory as a table; the recipe, which a
// malformed pointer's path supplies, is escaped (SPEC §4).
func writeListTable(w io.Writer, infos []audit.PointerInfo) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDED\tCOMMIT\tSTATE\tRECIPE\tLAYOUT\tSIGNER\tBUNDLE\tPROBLEMS")
	problems, extra := 0, 0
	for _, in := range infos {
		if len(in.ExtraKeys) > 0 {
			extra++
		}
		state := "live"
		if in.RemovedCommit != nil {
			state = "removed " + short(*in.RemovedCommit)
		}
		signer := "-"
		if in.Signer != nil {
			signer = in.Signer.Class
		}
		var ps []string
		for _, p := range in.Problems {
			ps = append(ps, p.Class)
		}
		if len(ps) > 0 {
			problems++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			in.AddedAt.Format("2006-01-02"), short(in.AddedCommit), state, orDash(escape.Line(in.Recipe)),
			orDash(in.Layout), signer, orDash(shortDigest(in.BundleDigest)), orDash(strings.Join(ps, ",")))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if _, err := fmt.Fprintf(w, "\n%d pointer versions, %d with problems (details: --format json)\n", len(infos), problems); err != nil {
		return err
	}
	if extra > 0 {
		_, err := fmt.Fprintf(w, "%d with keys beyond pointer schema 1.0.0, ignored (not problems; see extraKeys in --format json)\n", extra)
		return err
	}
	return nil
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}

func shortDigest(d string) string {
	if len(d) > len("sha256:")+12 {
		return d[:len("sha256:")+12]
	}
	return d
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
