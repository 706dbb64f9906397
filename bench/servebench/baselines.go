package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry"
	"log/slog"
	"net/http"
	"os"
	"path"
	"path/filepath"

	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	"github.com/foreignlayers/fl/pkg/backend"
)

// serveFile is the minimal baseline: files under root, http.ServeContent,
// each opened per request as a file server does.
func serveFile(addr, root string) error {
	return http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := os.Open(filepath.Join(root, filepath.FromSlash(path.Clean("/"+r.URL.Path))))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		http.ServeContent(w, r, "", fi.ModTime(), f)
	}))
}

// serveDistribution runs distribution v3 alone, filesystem storage.
func serveDistribution(addr, dir string) error {
	h, err := backend.Embedded(context.Background(), backend.EmbeddedOptions{RootDir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	return http.ListenAndServe(addr, h)
}

// serveDistributionStock runs distribution v3 as `registry serve` does:
// its own server, default logging and access log (to the process's log
// file here).
func serveDistributionStock(addr, dir string) error {
	cfg, err := configuration.Parse(strings.NewReader(fmt.Sprintf("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n", dir, addr)))
	if err != nil {
		return err
	}
	r, err := registry.NewRegistry(context.Background(), cfg)
	if err != nil {
		return err
	}
	return r.ListenAndServe()
}
