package store

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3Config says where a store on S3 lives. Credentials come from the
// standard AWS chain (environment, shared config and credentials files,
// web identity, instance roles).
type S3Config struct {
	// Endpoint is the URL of an S3-compatible server; empty for AWS.
	Endpoint string
	// Bucket holds everything; it must exist.
	Bucket string
	// Prefix is put before every key ("fl/" keeps fl's objects in a
	// folder of a shared bucket); a missing trailing slash is added.
	Prefix string
	// Region is the bucket's; empty takes the chain's, or us-east-1.
	Region string
}

// S3Location is a bucket and a key prefix, reached through a client: the
// place an S3Index or S3Cache keeps its objects.
type S3Location struct {
	Client *s3.Client
	Bucket string
	Prefix string // empty, or ending in "/"
	// ETagsNotMD5 says the bucket's ETags are not the MD5 of the content
	// (AWS with SSE-KMS encryption): records are then not checked
	// against their ETag.
	ETagsNotMD5 bool
}

// NewS3Client returns a client for c, with path-style addressing (which
// S3-compatible servers need) and checksums only where the API requires
// them (which they do not all compute).
func NewS3Client(ctx context.Context, c S3Config) (*s3.Client, error) {
	if c.Bucket == "" {
		return nil, errors.New("s3: no bucket")
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("s3: the endpoint %q is not an http or https URL", c.Endpoint)
		}
	}
	var opts []func(*config.LoadOptions) error
	if c.Region != "" {
		opts = append(opts, config.WithRegion(c.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: loading the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
		o.UsePathStyle = true
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	}), nil
}

// NewS3Location connects to c: the client and the normalized prefix.
func NewS3Location(ctx context.Context, c S3Config) (S3Location, error) {
	client, err := NewS3Client(ctx, c)
	if err != nil {
		return S3Location{}, err
	}
	return S3Location{Client: client, Bucket: c.Bucket, Prefix: NormalizePrefix(c.Prefix)}, nil
}

// NormalizePrefix returns p without leading slashes and with one
// trailing slash, or "" for none.
func NormalizePrefix(p string) string {
	p = strings.Trim(p, "/")
	if p == "" {
		return ""
	}
	return p + "/"
}

func (l S3Location) check() error {
	if l.Client == nil || l.Bucket == "" {
		return errors.New("s3: no client or no bucket")
	}
	if l.Prefix != "" && !strings.HasSuffix(l.Prefix, "/") {
		return fmt.Errorf("s3: the prefix %q does not end in /", l.Prefix)
	}
	return nil
}

// s3Status is the HTTP status of an S3 error, or 0.
func s3Status(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func isNotFound(err error) bool { return s3Status(err) == 404 }

// isPreconditionFailed: a conditional write lost (412), or met another
// conditional write in flight on the same key (409, as AWS answers).
func isPreconditionFailed(err error) bool {
	s := s3Status(err)
	return s == 412 || s == 409
}

// getJSON reads the object key into v; it returns the object's ETag, or
// "" if there is none. An object that is not JSON is an error.
//
// Some S3-compatible servers (versitygw v1.8.0 among them) can answer a
// GET racing a PUT with the body of one version and the ETag of another:
// a compare-and-swap on that ETag would then drop the other writer's
// update. Unless the location says ETags are not MD5s, a body whose MD5
// is not its ETag is read again.
func (l S3Location) getJSON(ctx context.Context, key string, v any) (string, error) {
	for attempt := 0; ; attempt++ {
		b, etag, err := l.get(ctx, key)
		if err != nil || etag == "" {
			return "", err
		}
		if !l.ETagsNotMD5 && !etagIsMD5(etag, b) {
			if attempt+1 < tornReads {
				if err := casBackoff(ctx, 0); err != nil {
					return "", err
				}
				continue
			}
			return "", fmt.Errorf("s3: %s: the ETag %s is not the MD5 of the body %d times in a row (set ETagsNotMD5 for this bucket?)", key, etag, tornReads)
		}
		if err := json.Unmarshal(b, v); err != nil {
			return "", fmt.Errorf("s3: %s: %w", key, err)
		}
		return etag, nil
	}
}

// tornReads bounds the reads of an object whose ETag is not its body's.
const tornReads = 8

func etagIsMD5(etag string, b []byte) bool {
	sum := md5.Sum(b)
	return strings.Trim(etag, `"`) == hex.EncodeToString(sum[:])
}

// get reads a small object: its bytes and ETag, or "" if it is absent.
func (l S3Location) get(ctx context.Context, key string) ([]byte, string, error) {
	out, err := l.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: &l.Bucket, Key: &key})
	if isNotFound(err) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("s3: reading %s: %w", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, maxRecordBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("s3: reading %s: %w", key, err)
	}
	if len(b) > maxRecordBytes {
		return nil, "", fmt.Errorf("s3: %s is larger than %d bytes", key, maxRecordBytes)
	}
	return b, aws.ToString(out.ETag), nil
}

// maxRecordBytes caps what a record object may hold.
const maxRecordBytes = 4 << 20

// anyEtag makes putJSON unconditional.
const anyEtag = "\x00any"

// errLostRace: a conditional write found the object changed.
var errLostRace = errors.New("the object changed meanwhile")

// putJSON writes v to key if the object still has etag ("" for: if it
// does not exist); with anyEtag, whatever is there. A lost race is
// errLostRace.
func (l S3Location) putJSON(ctx context.Context, key string, v any, etag string) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	in := &s3.PutObjectInput{Bucket: &l.Bucket, Key: &key, Body: bytes.NewReader(b),
		ContentLength: aws.Int64(int64(len(b))), ContentType: aws.String("application/json")}
	switch etag {
	case anyEtag:
	case "":
		in.IfNoneMatch = aws.String("*")
	default:
		in.IfMatch = aws.String(etag)
	}
	out, err := l.Client.PutObject(ctx, in)
	if isPreconditionFailed(err) {
		return "", errLostRace
	}
	if err != nil {
		return "", fmt.Errorf("s3: writing %s: %w", key, err)
	}
	return aws.ToString(out.ETag), nil
}

func (l S3Location) delete(ctx context.Context, key string) error {
	_, err := l.Client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &l.Bucket, Key: &key})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("s3: deleting %s: %w", key, err)
	}
	return nil
}
