package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/evidence-auditd/evidence-auditd/internal/anchor"
	"github.com/evidence-auditd/evidence-auditd/internal/config"
	"github.com/evidence-auditd/evidence-auditd/internal/job"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
	"github.com/evidence-auditd/evidence-auditd/internal/verify"
)

func newVerifyReportCommand(g *globalFlags) *cobra.Command {
	var bundlePath, ledgerPath, keyPath, identity, issuer, trustedRoot string
	cmd := &cobra.Command{
		Use:   "verify-report REPORT",
		Short: "Check a signed compliance snapshot: its signature and signer, and (with the ledger) its run",
		Long: `verify-report checks a report written by report --sign: the Sigstore
bundle (REPORT.sigstore.json unless --bundle) is signed by the anchor key, or
keyless by the expected identity through a CA of the trusted root, its
transparency-log entry (if any) is in a log of the trusted root, and it is an
in-toto statement whose subject is REPORT's sha256 — an edited report fails.

Given the ledger (-c with ledger.path, or --ledger), it also checks that the
ledger holds up against its anchors up to the report's run, that the run's
sealed head is the one signed, and that the run's facts and summary are those
of the statement; it says whether the report re-renders byte for byte (a report
shows issue states as the ledger knows them when rendered, so a later issue sync
changes the rendering without making the report wrong).

Whose signature to accept: --key (or anchor.publicKey / anchor.key) for a key;
--certificate-identity and --certificate-oidc-issuer (or anchor.identity and
anchor.issuer) for a keyless signature, which also needs the trusted root
(trust.trustedRoot, --trusted-root, or the public-good root).

Exit codes: 0 the report verifies (and matches the ledger); 3 it does not; 1 a
file or the ledger cannot be read; 2 usage or configuration.`,
		Example: `  evidence-auditd verify-report snapshot.md --key anchor.pub
  evidence-auditd verify-report snapshot.md -c /etc/evidence-auditd/config.yaml
  evidence-auditd verify-report snapshot.md --certificate-identity https://github.com/o/r/.github/workflows/audit.yaml@refs/heads/main \
      --certificate-oidc-issuer https://token.actions.githubusercontent.com`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr(fmt.Errorf("verify-report: want exactly one REPORT file, got %d arguments", len(args)))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if (identity == "") != (issuer == "") {
				return usageErr(errors.New("--certificate-identity and --certificate-oidc-issuer go together"))
			}
			useLedger := ledgerPath != "" || g.configPath != "" || os.Getenv(config.EnvPrefix+"CONFIG") != ""
			cfg, err := g.loadConfig(func(c *config.Config) {
				if ledgerPath != "" {
					c.Ledger.Path = ledgerPath
				}
				if keyPath != "" {
					c.Anchor.PublicKey, c.Anchor.Key = keyPath, ""
				}
				if identity != "" {
					c.Anchor.Identity, c.Anchor.Issuer = identity, issuer
				}
				if trustedRoot != "" {
					c.Trust.TrustedRoot = trustedRoot
				}
			})
			if err != nil {
				return err
			}
			if bundlePath == "" {
				bundlePath = args[0] + bundleSuffix
			}
			return runVerifyReport(cmd.Context(), cmd.OutOrStdout(), cfg, args[0], bundlePath, useLedger)
		},
	}
	cmd.Flags().StringVar(&bundlePath, "bundle", "", "the Sigstore bundle (default: REPORT.sigstore.json)")
	cmd.Flags().StringVar(&ledgerPath, "ledger", "", "ledger file to match the report against (default: ledger.path of -c)")
	cmd.Flags().StringVar(&keyPath, "key", "", "public key (PEM) the report must be signed with (default: anchor.publicKey)")
	cmd.Flags().StringVar(&identity, "certificate-identity", "", "keyless: the signer's identity (certificate SAN) to accept")
	cmd.Flags().StringVar(&issuer, "certificate-oidc-issuer", "", "keyless: the signer's OIDC issuer to accept")
	cmd.Flags().StringVar(&trustedRoot, "trusted-root", "", "trusted_root.json for keyless and logged signatures (default: trust.trustedRoot, else public-good)")
	return cmd
}

// runVerifyReport verifies the report and its bundle and, with the ledger,
// matches it against the anchored run.
func runVerifyReport(ctx context.Context, out io.Writer, cfg *config.Config, reportPath, bundlePath string, useLedger bool) error {
	reportBytes, err := os.ReadFile(reportPath)
	if err != nil {
		return err
	}
	bundleJSON, err := os.ReadFile(bundlePath)
	if err != nil {
		return fmt.Errorf("%w (write one with report --sign)", err)
	}
	keyless, needRoot := bundleShape(bundleJSON)
	if keyless && cfg.Anchor.Identity == "" {
		return usageErr(errors.New("the report is signed keyless: say whose signature to accept with --certificate-identity and --certificate-oidc-issuer (or anchor.identity and anchor.issuer)"))
	}
	trust, err := anchorTrust(ctx, cfg, needRoot)
	if err != nil {
		return err
	}
	if needRoot && trust.Root == nil {
		return fmt.Errorf("the trusted root is needed to check this signature and cannot be loaded: %w", trust.RootErr)
	}
	var sv *verify.Verifier
	if keyless {
		if sv, err = job.NewVerifier(ctx, cfg); err != nil {
			return err
		}
	}
	res, err := anchor.VerifySnapshot(reportBytes, bundleJSON, trust, sv)
	if err != nil {
		return snapshotErr(out, reportPath, err)
	}
	p := res.Predicate
	fmt.Fprintf(out, "%s: signature OK — %s signed by %s", reportPath, res.Digest, res.By)
	if res.LogIndex >= 0 {
		fmt.Fprintf(out, ", logged at index %d", res.LogIndex)
	}
	if !res.SignedAt.IsZero() {
		fmt.Fprintf(out, ", at %s", res.SignedAt.UTC().Format(time.RFC3339))
	}
	fmt.Fprintln(out)
	anchored := "not anchored"
	if p.Anchor != nil {
		anchored = "anchored"
		if p.Anchor.SignedBy != "" {
			anchored += " (signed by " + p.Anchor.SignedBy + ")"
		}
	}
	fmt.Fprintf(out, "%s: a %s report of run %d (%s) of %s @ %s, commit %s, as of %s; ledger %s head %s over %d rows, %s\n",
		reportPath, p.Format, p.RunID, p.Kind, p.Repository, p.Ref, short(p.Commit), p.AsOf, p.LedgerID, p.LedgerHead, p.LedgerRows, anchored)
	summary, _ := json.Marshal(p.Summary)
	fmt.Fprintf(out, "%s: summary %s\n", reportPath, summary)

	if !useLedger {
		if _, err := os.Stat(cfg.Ledger.Path); err != nil {
			fmt.Fprintln(out, "no ledger given (-c or --ledger): the report's claim about its run was not checked")
			return nil
		}
	}
	db, err := ledger.OpenReadOnly(ctx, cfg.Ledger.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("open ledger %s: no ledger there", cfg.Ledger.Path)
	}
	if err != nil {
		return err
	}
	defer db.Close()
	m, err := anchor.MatchSnapshot(ctx, db, reportBytes, p, anchor.CheckOptions{Dir: cfg.Anchor.Dir, Trust: trust})
	for _, n := range noteList(m) {
		fmt.Fprintln(out, "  note:", n)
	}
	if err != nil {
		return snapshotErr(out, "ledger "+cfg.Ledger.Path, err)
	}
	how := "its head is anchored"
	if !m.Anchored {
		how = "the run has no anchor (only the ledger's own chain vouches for it)"
	}
	rendered := "the report re-renders byte for byte from the ledger"
	if !m.Identical {
		rendered = "the report's signed facts and summary match the ledger's run"
	}
	fmt.Fprintf(out, "ledger %s: run %d matches the report: %s; %s\n", cfg.Ledger.Path, p.RunID, how, rendered)
	return nil
}

func noteList(m *anchor.SnapshotMatch) []string {
	if m == nil {
		return nil
	}
	return m.Notes
}

// snapshotErr prints a mismatch and makes it exit 3; other errors (exit 1)
// are returned as they are.
func snapshotErr(out io.Writer, what string, err error) error {
	if errors.Is(err, anchor.ErrSnapshotMismatch) {
		fmt.Fprintf(out, "%s: MISMATCH: %v\n", what, err)
		return &findingsError{what: what + " does not verify"}
	}
	return err
}

// bundleShape says whether a bundle is keyless (a certificate) and whether
// checking it needs the trusted root (keyless, or a log entry).
func bundleShape(raw []byte) (keyless, needRoot bool) {
	var b struct {
		VerificationMaterial struct {
			Certificate          json.RawMessage   `json:"certificate"`
			X509CertificateChain json.RawMessage   `json:"x509CertificateChain"`
			TlogEntries          []json.RawMessage `json:"tlogEntries"`
		} `json:"verificationMaterial"`
	}
	if json.Unmarshal(raw, &b) != nil {
		return false, false
	}
	vm := b.VerificationMaterial
	keyless = len(vm.Certificate) > 0 || len(vm.X509CertificateChain) > 0
	return keyless, keyless || len(vm.TlogEntries) > 0
}
