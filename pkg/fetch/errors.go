package fetch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
)

// Sentinel kinds of fetch failure, for errors.Is.
var (
	ErrDNS        = errors.New("DNS lookup failed")
	ErrConnect    = errors.New("connection failed")
	ErrTLS        = errors.New("TLS handshake failed")
	ErrTimeout    = errors.New("timed out")
	ErrStatus     = errors.New("unexpected HTTP status")
	ErrChanged    = errors.New("content changed while downloading")
	ErrRefused    = errors.New("refused by policy")
	ErrNoURL      = errors.New("no URL to fetch")
	ErrBadURL     = errors.New("invalid URL")
	ErrRedirected = errors.New("too many redirects")
)

// Error is a failed fetch of one URL.
type Error struct {
	URL        string
	Kind       error // one of the sentinels above
	StatusCode int   // set when Kind is ErrStatus
	Err        error // the underlying cause, if any
}

func (e *Error) Error() string {
	switch {
	case e.Kind == ErrStatus:
		return fmt.Sprintf("GET %s: HTTP %d %s", e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	case e.Err != nil:
		return fmt.Sprintf("GET %s: %v: %v", e.URL, e.Kind, e.Err)
	default:
		return fmt.Sprintf("GET %s: %v", e.URL, e.Kind)
	}
}

// Unwrap lets errors.Is match both the kind and the cause.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// classify turns a transport error into an *Error of the right kind.
func classify(url string, err error) *Error {
	var fe *Error
	if errors.As(err, &fe) {
		return fe
	}
	kind := ErrConnect
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var recordErr tls.RecordHeaderError
	switch {
	case errors.Is(err, ErrRefused):
		kind = ErrRefused
	case errors.As(err, &dnsErr):
		kind = ErrDNS
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr), errors.As(err, &recordErr):
		kind = ErrTLS
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), isTimeout(err):
		kind = ErrTimeout
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		kind = ErrConnect
	}
	return &Error{URL: url, Kind: kind, Err: unwrapURLError(err)}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// unwrapURLError drops the *url.Error layer, whose text repeats the URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// retryable reports whether a failed attempt is worth another try.
func retryable(err error) bool {
	var fe *Error
	if !errors.As(err, &fe) {
		return false
	}
	switch fe.Kind {
	case ErrDNS:
		// The name does not resolve: the next mirror, not a retry.
		return false
	case ErrConnect:
		// Nobody listens: the next mirror, not a retry.
		return !errors.Is(fe.Err, syscall.ECONNREFUSED)
	case ErrTimeout:
		return true
	case ErrStatus:
		return fe.StatusCode == http.StatusTooManyRequests || fe.StatusCode >= 500
	}
	return false
}
