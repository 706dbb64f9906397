// Package ocierr writes errors in the OCI distribution-spec envelope,
// {"errors":[{"code","message","detail"}]}, from one table that pairs each
// code with its HTTP status, so every refusal fl serve makes is shaped the
// same way.
package ocierr

import (
	"encoding/json"
	"net/http"
)

// Code is an OCI distribution error code.
type Code string

// The codes fl serve answers with.
const (
	BlobUnknown     Code = "BLOB_UNKNOWN"
	ManifestInvalid Code = "MANIFEST_INVALID"
	ManifestUnknown Code = "MANIFEST_UNKNOWN"
	NameInvalid     Code = "NAME_INVALID"
	SizeInvalid     Code = "SIZE_INVALID"
	Unauthorized    Code = "UNAUTHORIZED"
	Denied          Code = "DENIED"
	Unsupported     Code = "UNSUPPORTED"
	TooManyRequests Code = "TOOMANYREQUESTS"
	Unavailable     Code = "UNAVAILABLE"
	DigestInvalid   Code = "DIGEST_INVALID"
	TagInvalid      Code = "TAG_INVALID"
	NameUnknown     Code = "NAME_UNKNOWN"
)

// status is the one table of codes and their HTTP statuses.
var status = map[Code]int{
	BlobUnknown:     http.StatusNotFound,
	ManifestInvalid: http.StatusBadRequest,
	ManifestUnknown: http.StatusNotFound,
	NameInvalid:     http.StatusBadRequest,
	SizeInvalid:     http.StatusRequestEntityTooLarge,
	Unauthorized:    http.StatusUnauthorized,
	Denied:          http.StatusForbidden,
	Unsupported:     http.StatusMethodNotAllowed,
	TooManyRequests: http.StatusTooManyRequests,
	Unavailable:     http.StatusServiceUnavailable,
	DigestInvalid:   http.StatusBadRequest,
	TagInvalid:      http.StatusBadRequest,
	NameUnknown:     http.StatusNotFound,
}

// Status is the HTTP status that goes with c.
func (c Code) Status() int {
	if s, ok := status[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Error is one entry of the envelope.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

// Write answers with one error, at the code's HTTP status.
func Write(w http.ResponseWriter, code Code, message string, detail any) {
	WriteStatus(w, code.Status(), code, message, detail)
}

// WriteStatus answers with one error at an explicit HTTP status.
func WriteStatus(w http.ResponseWriter, httpStatus int, code Code, message string, detail any) {
	body, _ := json.Marshal(struct {
		Errors []Error `json:"errors"`
	}{[]Error{{Code: code, Message: message, Detail: detail}}})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Del("Content-Length")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(httpStatus)
	_, _ = w.Write(body)
}
