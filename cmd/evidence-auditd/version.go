package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

// verifierModules are the dependencies whose versions decide verification
// results; `version` prints them so a report can be reproduced.
var verifierModules = []string{
	"github.com/sigstore/sigstore-go",
	"github.com/sigstore/rekor",
	"github.com/google/go-containerregistry",
	"modernc.org/sqlite",
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and the versions of the verification libraries",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "evidence-auditd %s\n", version)
			info, ok := debug.ReadBuildInfo()
			if !ok {
				return nil
			}
			fmt.Fprintf(out, "go %s\n", info.GoVersion)
			for _, dep := range info.Deps {
				for _, m := range verifierModules {
					if dep.Path == m {
						fmt.Fprintf(out, "%s %s\n", dep.Path, dep.Version)
					}
				}
			}
			return nil
		},
	}
}
