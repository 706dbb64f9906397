// Package mirror changes what a copy carries: Materialize gives each
// foreign layer a verified download, so its bytes travel as an ordinary
// blob while the manifest keeps its exact bytes; StripURLs goes further and
// rewrites foreign descriptors into ordinary ones, for destinations that
// refuse layer URLs (the digest then changes).
package mirror
