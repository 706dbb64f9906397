// Package build turns a [Spec] (from flags or a build file) into an
// [image.Artifact]: it reads every foreign layer once through package
// fetch, describes it with package describe, checks pins and published
// checksums, tars local directories reproducibly, and composes configs
// and manifests, on top of an optional base image.
//
// Nothing is pushed here; package publish does that, after every check
// has passed.
package build
