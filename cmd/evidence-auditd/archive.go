package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/config"
	"github.com/evidence-auditd/evidence-auditd/internal/job"
)

func newArchiveCommand(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "archive",
		Short: "Check, fill and restore the auditor's own copies of verified bundles",
		Long: `The archive keeps a digest-preserving copy of every bundle the
auditor verified healthy — summary manifest, config, layer and signature — in
an OCI image layout (archive.dir, under dataDir by default) or an OCI
repository (archive.url). When a registry deletes a bundle or goes private,
the audit verifies the archived copy instead (verdict archived) and
archive restore puts it back.`,
		Args: unknownSubcommand,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newArchiveVerifyCommand(g), newArchiveBackfillCommand(g), newArchiveRestoreCommand(g))
	return cmd
}

func newArchiveVerifyCommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "verify",
		Short: "Re-hash every archived object; exit 3 naming any that changed",
		Long: `verify reads every object of every bundle the ledger records in the configured
archive — manifests, configs, layers, signatures — and checks each against its
digest and size. It prints what it checked and the archive's disk usage.
For a layout it also checks the index against the ledger and counts blobs
no bundle uses (residue of copies a crash interrupted: harmless).

Exit codes: 0 intact; 3 something is altered or missing (each named: bundle,
object, media type); 1 the archive or ledger cannot be read; 2 usage.`,
		Example: `  evidence-auditd archive verify -c /etc/evidence-auditd/config.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig(nil)
			if err != nil {
				return err
			}
			log := newLogger(cfg)
			rep, err := newJob(cfg, log).VerifyArchive(cmd.Context(), progressWith(os.Stderr, log, "verified %d/%d archived bundles"))
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "Archive %s\n", rep.Store)
			fmt.Fprintf(w, "%d bundles, %d objects, %s re-hashed\n", rep.Bundles, rep.Objects, bytesText(rep.Bytes))
			if strings.HasPrefix(rep.Store, "oci:") {
				fmt.Fprintf(w, "stored in the registry: %s in %d objects (as recorded; a registry may share blobs between repositories)", bytesText(rep.Usage.Bytes), rep.Usage.Files)
			} else {
				fmt.Fprintf(w, "disk usage: %s in %d files", bytesText(rep.Usage.Bytes), rep.Usage.Files)
			}
			if rep.Usage.Unreferenced > 0 {
				fmt.Fprintf(w, " (%d unreferenced blobs, %s: residue of interrupted copies)", rep.Usage.Unreferenced, bytesText(rep.Usage.UnreferencedBytes))
			}
			fmt.Fprintln(w)
			if n := len(rep.Unrecorded); n > 0 {
				fmt.Fprintf(w, "%d complete copies are not recorded in the ledger yet (a run stopped before recording them); the next full verification of their pointers records them\n", n)
			}
			if rep.OK() {
				fmt.Fprintln(w, "OK: every archived object matches its digest")
				return nil
			}
			fmt.Fprintf(w, "\nPROBLEMS (%d):\n", len(rep.Problems))
			for _, p := range rep.Problems {
				fmt.Fprintf(w, "  %s\n", p)
			}
			fmt.Fprintln(w, "\nA damaged copy is never used as proof. While a bundle's origin still serves it, `evidence-auditd archive backfill --repair` copies it again.")
			return &findingsError{what: fmt.Sprintf("%d archive problems", len(rep.Problems))}
		},
	}
}

func newArchiveBackfillCommand(g *globalFlags) *cobra.Command {
	var repair bool
	cmd := &cobra.Command{
		Use:   "backfill",
		Short: "Archive every healthy bundle not archived yet (ledgers older than the archive)",
		Long: `backfill takes the latest complete run's bundles that were verified from their
origin (verified, verified-with-failures) and that the archive does not hold,
fetches each from its registry, verifies it in full as an audit does, and
archives it; each copy is recorded in the ledger as soon as it is written.
A run normally archives on its own (on a bundle's first full verification);
backfill is for bundles last verified before the archive existed, which the
fast path does not fetch again until policy.deepEvery.

With --repair it first re-hashes the archive (as archive verify does) and
copies again, from their origin, the bundles whose archived copy is damaged —
possible only while the origin still serves them.

It takes the audit lock, as run does. Progress goes to a terminal, or to the
log every few seconds when stderr is not one.

Exit codes: 0 every such bundle is archived; 1 some could not be (each named
with the reason; run backfill again later); 2 usage.`,
		Example: `  evidence-auditd archive backfill -c /etc/evidence-auditd/config.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig(nil)
			if err != nil {
				return err
			}
			log := newLogger(cfg)
			out, err := newJob(cfg, log).Backfill(cmd.Context(), repair, progressWith(os.Stderr, log, "archived %d/%d bundles"))
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "Archive %s, from run %d: %d healthy bundles archived already, %d to archive", out.Store, out.Run.ID, out.Already, out.Candidates)
			if repair {
				fmt.Fprintf(w, " (%d of them damaged copies to repair)", out.Damaged)
			}
			fmt.Fprintln(w)
			var failed int
			for _, b := range out.Done {
				if b.Archived != nil {
					continue
				}
				failed++
				why := b.Result.Detail
				for _, c := range b.Result.Checks {
					if c.Name == "archive" {
						why = c.Detail
					}
				}
				fmt.Fprintf(w, "  not archived: %s (%s)\n    %s: %s\n", b.Key.Path, b.Digest, verdictLabel(b.Result), why)
			}
			fmt.Fprintf(w, "%d archived now, %d not\n", out.Archived, failed)
			if failed > 0 {
				return fmt.Errorf("%d bundles could not be archived; backfill again later", failed)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&repair, "repair", false, "also copy again, from their origin, the bundles whose archived copy is damaged")
	return cmd
}

func newArchiveRestoreCommand(g *globalFlags) *cobra.Command {
	var (
		to   string
		lost bool
	)
	cmd := &cobra.Command{
		Use:   "restore (POINTER.yaml...|--lost) --to REGISTRY/REPOSITORY",
		Short: "Push archived bundles with their signatures to a repository and verify them there",
		Long: `restore reads each named pointer's bundle from the archive (every object
checked against its digest), pushes it to --to — blobs, the summary manifest by
digest, then the signature as an OCI 1.1 referrer (with the sha256-<hex> tag
index where the registry lacks the Referrers API) or the legacy .att image
under its tag — and verifies it from there as an audit would. When the
repository differs from the pointer's bundle.oci, it prints the change the
pointer needs (the digest never changes). --lost restores every live pointer
the latest complete run found archived (origin lost).

Neither the ledger nor the archive is written. Credentials for --to come from
the Docker credential chain; a plain-http registry must be listed in
registry.plainHTTP.

Exit codes: 0 every bundle pushed and verified there; 3 one was pushed but
does not verify there; 1 one could not be restored; 2 usage.`,
		Example: `  evidence-auditd archive restore --lost --to registry.example/aicr-evidence
  evidence-auditd archive restore recipes/evidence/h100-eks-ubuntu-training/…/sha256-….yaml --to ghcr.io/nvidia/aicr-evidence`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case to == "":
				return usageErr(fmt.Errorf("--to REGISTRY/REPOSITORY is required"))
			case lost && len(args) > 0:
				return usageErr(fmt.Errorf("name pointer files or --lost, not both"))
			case !lost && len(args) == 0:
				return usageErr(fmt.Errorf("name the pointer files to restore, or --lost"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := g.loadConfig(nil)
			if err != nil {
				return err
			}
			req := job.RestoreRequest{Lost: lost, To: to}
			for _, a := range args {
				data, err := readPointerFile(a)
				if err != nil {
					return usageErr(err)
				}
				req.Pointers = append(req.Pointers, job.PointerFile{Path: a, Key: repoRelative(a, cfg.Repo.EvidenceDir), Content: data})
			}
			out, err := newJob(cfg, newLogger(cfg)).Restore(cmd.Context(), req)
			if err != nil {
				return err
			}
			return printRestored(cmd.OutOrStdout(), out)
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "repository to push to, REGISTRY/REPOSITORY")
	cmd.Flags().BoolVar(&lost, "lost", false, "restore every live pointer the latest complete run found archived")
	return cmd
}

// printRestored prints each restored bundle, the pointer changes needed,
// and maps the outcome to the exit code.
func printRestored(w io.Writer, out []job.Restored) error {
	if len(out) == 0 {
		fmt.Fprintln(w, "Nothing to restore: the latest complete run found no archived pointer.")
		return nil
	}
	var failed, unverified int
	var changes []job.Restored
	for _, r := range out {
		fmt.Fprintf(w, "%s\n", r.Path)
		switch {
		case r.Err != nil:
			failed++
			fmt.Fprintf(w, "  NOT RESTORED: %v\n", r.Err)
		case !r.OK():
			unverified++
			fmt.Fprintf(w, "  pushed %s (%d objects, %s) to %s, but it does not verify there: %s: %s\n",
				r.Digest, r.Pushed.Objects, bytesText(r.Pushed.Bytes), r.Pushed.Repository, verdictLabel(r.Verified), r.Verified.Detail)
		default:
			fmt.Fprintf(w, "  restored %s (%d objects, %s, signature %s) to %s: %s there\n",
				r.Digest, r.Pushed.Objects, bytesText(r.Pushed.Bytes), r.Pushed.Signature, r.Pushed.Repository, verdictLabel(r.Verified))
			if r.NewOCI != "" {
				changes = append(changes, r)
			}
		}
	}
	if len(changes) > 0 {
		fmt.Fprintf(w, "\nPointer changes needed (bundle.oci; the digest stays):\n")
		for _, r := range changes {
			fmt.Fprintf(w, "  %s\n    bundle.oci: %s\n             → %s\n", r.Path, r.OCI, r.NewOCI)
		}
	}
	switch {
	case failed > 0:
		return fmt.Errorf("%d of %d bundles could not be restored", failed, len(out))
	case unverified > 0:
		return &findingsError{what: fmt.Sprintf("%d restored bundles do not verify from their new place", unverified)}
	}
	return nil
}

// printArchiveLine is run's line about the archive (SPEC §9): its
// coverage of the run's healthy bundles and what the run copied.
func printArchiveLine(w io.Writer, cfg *config.Config, s *audit.Summary) {
	if !cfg.Archive.Enabled {
		fmt.Fprintln(w, "archive: disabled (archive.enabled: false)")
		return
	}
	c := s.Archive
	fmt.Fprintf(w, "archive: %d of %d healthy bundles archived", c.Archived, c.Healthy)
	if r, ok := c.Ratio(); ok {
		fmt.Fprintf(w, " (%.0f%%)", 100*r)
	}
	fmt.Fprintf(w, ", %d copied by this run\n", s.Archived)
}

// bytesText renders a size for people: 1.2 MiB.
func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
