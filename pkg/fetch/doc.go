// Package fetch reads foreign-layer URLs over HTTP for every fl command.
//
// A [Client] has connect, header and idle-read timeouts, retries transient
// failures with backoff, resumes an interrupted body with a Range request
// (guarded by If-Range so that changed content is never spliced), and
// reports each failure as an [*Error] that names the URL and says what kind
// of failure it was (DNS, connect, TLS, timeout, HTTP status).
//
// The client never carries registry credentials: it is a separate
// http.Client with no authenticator, and it drops Authorization and Cookie
// headers on every redirect.
package fetch
