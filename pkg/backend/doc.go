// Package backend provides the registries that fl serve's front sits on:
// distribution v3 embedded in-process (the default), or a reverse proxy to
// an existing registry. Both are plain http.Handlers.
package backend
