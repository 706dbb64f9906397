package commands

import (
	"fmt"
	"os"
	"sort"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"
)

// applyConfigFile sets cmd's flags from a YAML file whose keys are the flag
// names. A flag given on the command line wins over the file; an unknown
// key is an error, so a typo is not silently ignored.
func applyConfigFile(cmd *cobra.Command, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("--config %s: %w", path, err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fs := cmd.Flags()
	for _, k := range keys {
		f := fs.Lookup(k)
		if f == nil || k == "config" || k == "help" {
			return fmt.Errorf("--config %s: unknown setting %q (settings are the flag names of `fl %s --help`)", path, k, cmd.Name())
		}
		if f.Changed {
			continue
		}
		if err := setFlag(fs, f, m[k]); err != nil {
			return fmt.Errorf("--config %s: %s: %w", path, k, err)
		}
	}
	return nil
}

func setFlag(fs *pflag.FlagSet, f *pflag.Flag, v any) error {
	if list, ok := v.([]any); ok {
		for _, item := range list {
			if err := fs.Set(f.Name, fmt.Sprint(item)); err != nil {
				return err
			}
		}
		return nil
	}
	if v == nil {
		return nil
	}
	if n, ok := v.(float64); ok && n == float64(int64(n)) {
		v = int64(n)
	}
	return fs.Set(f.Name, fmt.Sprint(v))
}

// changedFlags records the flags given on the command line, with every
// value of repeatable ones, so the settings can be read again later.
func changedFlags(cmd *cobra.Command) map[string][]string {
	out := map[string][]string{}
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			out[f.Name] = sv.GetSlice()
			return
		}
		out[f.Name] = []string{f.Value.String()}
	})
	return out
}
