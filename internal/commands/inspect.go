package commands

import (
	"github.com/spf13/cobra"

	"github.com/foreignlayers/fl/pkg/imageref"
	"github.com/foreignlayers/fl/pkg/inspect"
)

func newInspect(g *globals) *cobra.Command {
	var (
		reg    registryFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "inspect REF",
		Short: "Show an image's layers per platform, which are foreign, and their URLs",
		Example: `  fl inspect localhost:5000/ubuntu:24.04
  fl inspect --json oci-layout:./out`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := reg.prepare(cmd.InOrStdin(), g.stderr); err != nil {
				return err
			}
			ref, err := imageref.Parse(args[0], reg.nameOptions()...)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s, err := inspect.Load(ctx, ref, reg.remoteOptions(ctx)...)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(g.stdout, s)
			}
			return printSummary(g.stdout, s)
		},
	}
	reg.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	return cmd
}
