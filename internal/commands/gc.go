package commands

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/foreignlayers/fl/pkg/gc"
)

type gcOptions struct {
	dataDir        string
	dryRun         bool
	deleteUntagged bool
	json           bool
}

func newGC(g *globals) *cobra.Command {
	o := &gcOptions{}
	cmd := &cobra.Command{
		Use:   "gc --data-dir DIR [--dry-run] [--json]",
		Short: "Free the disk of a stopped fl serve: unreferenced blobs, cached layers and index entries",
		Long: `Collect the garbage of fl serve's data dir, with the server stopped.

fl gc runs the embedded registry's mark and sweep (distribution's): blobs no
stored manifest references are deleted. Then it removes the cached foreign
layers that no stored manifest declares with urls, and the index entries of
manifests the registry no longer holds. It prints what it freed.

Deleting a manifest (DELETE /v2/NAME/manifests/DIGEST) frees nothing until
fl gc runs. fl gc takes the data dir's lock, so it refuses to run while a
server holds it, and no server starts until it is done.`,
		Example: `  fl gc --data-dir /var/lib/fl --dry-run
  fl gc --data-dir /var/lib/fl --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.dataDir == "" {
				return fmt.Errorf("--data-dir is required")
			}
			rep, err := gc.Collect(cmd.Context(), gc.Options{DataDir: o.dataDir, DryRun: o.dryRun, DeleteUntagged: o.deleteUntagged, Logger: g.logger})
			if err != nil {
				return err
			}
			if o.json {
				return printJSON(g.stdout, rep)
			}
			return printGC(g, rep)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dataDir, "data-dir", "", "the data dir of a stopped fl serve")
	f.BoolVar(&o.dryRun, "dry-run", false, "report what would be freed, and change nothing")
	f.BoolVar(&o.deleteUntagged, "delete-untagged", false, "also delete manifests no tag points at (and no kept index references); this deletes images pushed by digest only, referrers included")
	f.BoolVar(&o.json, "json", false, "print the report as JSON")
	return cmd
}

func printGC(g *globals, r *gc.Report) error {
	verb := "freed"
	if r.DryRun {
		verb = "would free"
	}
	_, err := fmt.Fprintf(g.stdout, "registry: %s %d blobs (%d bytes), %d manifests\ncache:    %s %d blobs (%d bytes)\nindex:    %s %d manifest records, %d layer records\ntotal:    %s %d bytes\n",
		verb, len(r.Registry.Blobs), r.Registry.Bytes, len(r.Registry.Manifests),
		verb, len(r.Cache.Blobs), r.Cache.Bytes,
		verb, len(r.Index.Manifests), len(r.Index.Layers),
		verb, r.Bytes)
	return err
}
