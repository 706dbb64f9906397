package build

import (
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/foreignlayers/fl/pkg/image"
)

// composeConfig applies a platform's settings and new layers to the base
// config. Settings given replace the base's; env and labels merge, key by
// key.
func composeConfig(baseCfg *v1.ConfigFile, want *v1.Platform, p PlatformSpec, added []image.Layer, created time.Time) *v1.ConfigFile {
	cfg := baseCfg.DeepCopy()
	if want != nil {
		cfg.OS, cfg.Architecture, cfg.Variant, cfg.OSVersion = want.OS, want.Architecture, want.Variant, want.OSVersion
	}
	cfg.Created = v1.Time{Time: created.UTC()}
	cfg.RootFS.Type = "layers"
	for _, l := range added {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.DiffID)
		cfg.History = append(cfg.History, v1.History{
			Created:   cfg.Created,
			CreatedBy: "fl build --layer " + l.Source,
			Comment:   historyComment(l),
		})
	}
	c := &cfg.Config
	if p.Entrypoint != nil {
		c.Entrypoint = p.Entrypoint
	}
	if p.Cmd != nil {
		c.Cmd = p.Cmd
	}
	if p.WorkingDir != "" {
		c.WorkingDir = p.WorkingDir
	}
	if p.User != "" {
		c.User = p.User
	}
	c.Env = mergeEnv(c.Env, p.Env)
	if len(p.Labels) > 0 {
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		for k, v := range p.Labels {
			c.Labels[k] = v
		}
	}
	return cfg
}

func historyComment(l image.Layer) string {
	if l.Foreign() {
		return "foreign layer"
	}
	return ""
}

// mergeEnv sets each KEY=VALUE of add in env, replacing an earlier KEY.
func mergeEnv(env, add []string) []string {
	out := append([]string(nil), env...)
	for _, kv := range add {
		k, _, _ := strings.Cut(kv, "=")
		replaced := false
		for i, have := range out {
			if hk, _, _ := strings.Cut(have, "="); hk == k {
				out[i], replaced = kv, true
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}
