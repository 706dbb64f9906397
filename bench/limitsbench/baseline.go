package main

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/foreignlayers/fl/pkg/backend"
)

// serveDistribution runs distribution v3 as fl embeds it (with its
// foreign-layer middleware, logging off), without fl's front: the floor
// of what storing and serving the same manifests costs.
func serveDistribution(ctx context.Context, addr, dir string) error {
	h, err := backend.Embedded(ctx, backend.EmbeddedOptions{RootDir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	return http.ListenAndServe(addr, h)
}
