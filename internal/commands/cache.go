package commands

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"

	"github.com/foreignlayers/fl/pkg/admin"
)

type cacheOptions struct {
	server string
	json   bool
}

func newCache(g *globals) *cobra.Command {
	o := &cacheOptions{}
	cmd := &cobra.Command{
		Use:   "cache ls|rm --server URL",
		Short: "List or remove the foreign layers a running fl serve has cached",
		Long: `List the foreign layers a running fl serve has cached (digest, size, last
use, the repositories that declare them), or remove some.

The server answers with credentials of a user of its --htpasswd file, which
fl cache reads from the docker config (docker login SERVER); without
--htpasswd, it answers only on its --metrics-addr, to clients on loopback.
A removed layer is fetched again from its URLs at its next pull.`,
		Args: cobra.NoArgs,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.server, "server", "", "the server: http(s)://HOST[:PORT] (its --addr, or without --htpasswd its --metrics-addr)")
	pf.BoolVar(&o.json, "json", false, "print JSON")
	cmd.AddCommand(&cobra.Command{
		Use:   "ls --server URL",
		Short: "List the cached foreign layers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			l, err := c.List(cmd.Context())
			if err != nil {
				return err
			}
			if o.json {
				return printJSON(g.stdout, l)
			}
			return printCache(g, l)
		},
	}, &cobra.Command{
		Use:   "rm --server URL DIGEST...",
		Short: "Remove cached foreign layers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			var removed []string
			for _, d := range args {
				if err := c.Remove(cmd.Context(), d); err != nil {
					return err
				}
				removed = append(removed, d)
				if !o.json {
					fmt.Fprintln(g.stdout, d)
				}
			}
			if o.json {
				return printJSON(g.stdout, map[string][]string{"removed": removed})
			}
			return nil
		},
	})
	return cmd
}

// client is the admin client, with the server's credentials from the
// docker config and credential helpers, if there are any.
func (o *cacheOptions) client() (*admin.Client, error) {
	if o.server == "" {
		return nil, fmt.Errorf("--server is required")
	}
	c, err := admin.NewClient(o.server)
	if err != nil {
		return nil, err
	}
	reg, err := name.NewRegistry(c.Server.Host, name.Insecure)
	if err != nil {
		return nil, fmt.Errorf("--server: %w", err)
	}
	a, err := authn.DefaultKeychain.Resolve(reg)
	if err != nil {
		return nil, fmt.Errorf("credentials for %s: %w", c.Server.Host, err)
	}
	cfg, err := a.Authorization()
	if err != nil {
		return nil, fmt.Errorf("credentials for %s: %w", c.Server.Host, err)
	}
	c.User, c.Password = cfg.Username, cfg.Password
	return c, nil
}

func printCache(g *globals, l *admin.CacheListing) error {
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DIGEST\tSIZE\tLAST USE\tREPOSITORIES")
	for _, b := range l.Blobs {
		repos := strings.Join(b.Repositories, ",")
		if repos == "" {
			repos = "-"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", b.Digest, b.Size, b.LastUse.Format(time.RFC3339), repos)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if !l.RepositoriesComplete {
		fmt.Fprintln(g.stderr, "fl: the index is larger than one listing reads: some repositories may be missing")
	}
	return nil
}
