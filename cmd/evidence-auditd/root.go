package main

import (
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"strings"

	"github.com/spf13/cobra"

	"github.com/evidence-auditd/evidence-auditd/internal/config"
	"github.com/evidence-auditd/evidence-auditd/internal/gcfloor"
)

// globalFlags are the flags every subcommand that reads configuration shares.
type globalFlags struct {
	configPath string
	cpuProfile string // hidden: for performance work
}

func newRootCommand() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:   "evidence-auditd",
		Short: "Audit the signed test evidence of an AICR-style repository, for years",
		Long: `evidence-auditd keeps a project's signed test evidence honest after it was merged.

It walks the merged history of recipes/evidence/, re-verifies every evidence
bundle from its OCI registry (falling back to the Rekor transparency log when
the registry lost it), records each result in an append-only, tamper-evident
SQLite ledger, renders compliance reports, and files re-certification issues.

Exit codes: 0 healthy, 1 could not complete, 2 usage or configuration error,
3 completed with findings.`,
		Example: `  # Inventory of every pointer ever merged, no network:
  evidence-auditd list --repo ~/src/aicr

  # Check the ledger's hash chain:
  evidence-auditd ledger verify -c /etc/evidence-auditd/config.yaml`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          unknownSubcommand,
		RunE:          func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.PersistentFlags().StringVarP(&g.configPath, "config", "c", "", "configuration file (default $EVIDENCE_AUDITD_CONFIG)")
	root.PersistentFlags().StringVar(&g.cpuProfile, "cpuprofile", "", "write a CPU profile to FILE (performance work)")
	root.PersistentFlags().MarkHidden("cpuprofile")
	var stopProfile func()
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if g.cpuProfile == "" {
			return nil
		}
		f, err := os.Create(g.cpuProfile)
		if err != nil {
			return usageErr(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
		return nil
	}
	cobra.OnFinalize(func() { // also after a failing RunE
		if stopProfile != nil {
			stopProfile()
			stopProfile = nil
		}
	})
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErr(err) })
	root.SetHelpTemplate(root.HelpTemplate() + envHelp())

	root.AddCommand(
		newVersionCommand(),
		newListCommand(g),
		newLedgerCommand(g),
		newReportCommand(g),
		newRunCommand(g),
		newServeCommand(g),
		newVerifyCommand(g),
		newVerifyReportCommand(g),
		newIssuesCommand(g),
		newArchiveCommand(g),
		newDemoCommand(),
	)
	return root
}

// unknownSubcommand is the Args of a command with subcommands: with Args
// set, cobra hands an unknown subcommand to it instead of failing in Find,
// so that it becomes a usage error (exit 2) like any other bad argument.
func unknownSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	var verbs []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			verbs = append(verbs, c.Name())
		}
	}
	return usageErr(fmt.Errorf("unknown command %q for %q (want one of: %s; see %s --help)",
		args[0], cmd.CommandPath(), strings.Join(verbs, ", "), cmd.CommandPath()))
}

// envHelp lists the environment variables under the root --help.
func envHelp() string {
	var b strings.Builder
	b.WriteString("\nEnvironment (each overrides the configuration key it names):\n")
	for _, v := range config.EnvVars() {
		fmt.Fprintf(&b, "  %-52s %s\n", v.Name, v.Key)
	}
	return "{{if not .HasParent}}" + b.String() + "{{end}}"
}

// loadConfig resolves the configuration for a subcommand; apply sets the
// subcommand's flags on top. Problems are usage errors (exit 2).
func (g *globalFlags) loadConfig(apply func(*config.Config)) (*config.Config, error) {
	cfg, err := config.Load(g.configPath, os.Getenv)
	if err != nil {
		return nil, usageErr(err)
	}
	if apply != nil {
		apply(cfg)
	}
	if err := cfg.Finalize(); err != nil {
		return nil, usageErr(fmt.Errorf("configuration: %w", err))
	}
	for _, w := range config.UnknownEnv(os.Environ()) {
		newLogger(cfg).Warn(w)
	}
	// The collector works harder as the process nears its memory budget
	// (memoryBudget), unless the operator chose a limit (GOMEMLIMIT).
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(cfg.MemoryLimit())
	}
	// A run's live heap is small (tens of MiB at 10 000 pointers): let it
	// grow to two fifths of that limit (64 MiB by default) before the
	// collector runs, rather than collecting it every few MiB.
	gcfloor.Keep(cfg.MemoryLimit() * 2 / 5)
	return cfg, nil
}

// loadRepoConfig is loadConfig for the commands that audit a repository:
// --repo and --ref override the configuration, and a repository is required.
func (g *globalFlags) loadRepoConfig(repoPath, ref string) (*config.Config, error) {
	cfg, err := g.loadConfig(func(c *config.Config) {
		if repoPath != "" {
			c.Repo.Path, c.Repo.URL = repoPath, ""
		}
		if ref != "" {
			c.Repo.Ref = ref
		}
	})
	if err != nil {
		return nil, err
	}
	if err := cfg.RequireRepo(); err != nil {
		return nil, usageErr(err)
	}
	return cfg, nil
}

// newLogger builds the stderr logger the configuration asks for.
func newLogger(cfg *config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}
