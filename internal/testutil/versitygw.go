package testutil

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// VersitygwVersion is the S3 server the tests run against; .ci/run
// builds it into .tools/versitygw.
const VersitygwVersion = "v1.8.0"

// S3Server is an S3 server on loopback.
type S3Server struct {
	Endpoint       string // http://127.0.0.1:PORT
	Access, Secret string
	Region         string
	buckets        atomic.Int64
}

// Versitygw starts versitygw (posix backend, metadata in a sidecar folder)
// on a free loopback port, stopped when the test ends. The program is
// looked up on PATH, then in the repository's .tools; missing, the test is
// skipped (failed under FL_E2E=require).
func Versitygw(t testing.TB) *S3Server {
	t.Helper()
	bin, err := exec.LookPath("versitygw")
	if err != nil {
		_, here, _, _ := runtime.Caller(0)
		bin = NeedBinary(t, filepath.Join(filepath.Dir(here), "..", "..", ".tools", "versitygw"))
	}
	dir := t.TempDir()
	for _, d := range []string{"data", "meta"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s := &S3Server{Access: "fltest", Secret: "fltest-secret-key", Region: "us-east-1"}
	addr := FreeAddr(t)
	s.Endpoint = "http://" + addr
	logf, err := os.Create(filepath.Join(dir, "versitygw.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--access", s.Access, "--secret", s.Secret, "--port", addr, "--keep-alive", "--quiet",
		"posix", "--sidecar", filepath.Join(dir, "meta"), filepath.Join(dir, "data"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("versitygw log:\n%s", b)
		}
	})
	WaitHTTP(t, s.Endpoint+"/")
	return s
}

// Client returns an SDK client for s, with the settings an S3-compatible
// server needs.
func (s *S3Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:                     s.Region,
		BaseEndpoint:               aws.String(s.Endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(s.Access, s.Secret, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// Env sets the AWS environment variables the standard credential chain
// reads, for code that builds its own client (the test must not be
// parallel, as t.Setenv requires).
func (s *S3Server) Env(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", s.Access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s.Secret)
	t.Setenv("AWS_REGION", s.Region)
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	// With AWS_CA_BUNDLE set, aws-sdk-go v1 (distribution's s3-aws
	// driver) replaces http.DefaultClient's transport when it starts: a
	// data race with the test's own requests, and no use on loopback.
	t.Setenv("AWS_CA_BUNDLE", "")
}

// Bucket creates a new, empty bucket and returns its name.
func (s *S3Server) Bucket(t testing.TB) string {
	t.Helper()
	var r [4]byte
	_, _ = rand.Read(r[:])
	name := fmt.Sprintf("fl-%d-%s", s.buckets.Add(1), hex.EncodeToString(r[:]))
	name = strings.ToLower(name)
	if _, err := s.Client().CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: &name}); err != nil {
		t.Fatalf("creating bucket %s: %v", name, err)
	}
	return name
}
