package describe

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

func mkTar(t testing.TB, size int) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := make([]byte, size)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range body {
		body[i] = byte('a' + r.IntN(4)) // compressible, not trivial
	}
	for _, name := range []string{"a", "dir/b"} {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write(body)
	}
	_ = tw.Close()
	return buf.Bytes()
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}

func zst(b []byte) []byte {
	w, _ := zstd.NewWriter(nil)
	defer w.Close()
	return w.EncodeAll(b, nil)
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func TestReaderDescribes(t *testing.T) {
	t.Parallel()
	// Larger than the chunk size and the queues, so the pipeline really
	// overlaps and recycles buffers.
	raw := mkTar(t, 5<<20+123)
	for _, tc := range []struct {
		name string
		in   []byte
		c    Compression
	}{
		{"gzip", gz(raw), Gzip},
		{"zstd", zst(raw), Zstd},
		{"tar", raw, None},
		{"multistream gzip", append(gz(raw[:1<<20]), gz(raw[1<<20:])...), Gzip},
	} {
		res, err := Reader(context.Background(), bytes.NewReader(tc.in))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if res.Compression != tc.c || res.Digest.String() != sum(tc.in) || res.Size != int64(len(tc.in)) ||
			res.DiffID.String() != sum(raw) || res.UncompressedSize != int64(len(raw)) {
			t.Errorf("%s: %+v", tc.name, res)
		}
	}
}

func TestReaderRejects(t *testing.T) {
	t.Parallel()
	raw := mkTar(t, 100<<10)
	text := bytes.Repeat([]byte("hello world\n"), 1000)
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"truncated gzip", gz(raw)[:len(gz(raw))/2], ErrCorrupt},
		{"gzip, bad crc", flipLast(gz(raw), 8), ErrCorrupt},
		{"truncated zstd", zst(raw)[:len(zst(raw))/2], ErrCorrupt},
		{"xz", append([]byte{0xfd, '7', 'z', 'X', 'Z', 0}, raw...), ErrUnsupported},
		{"bzip2", []byte("BZh91AY&SY..."), ErrUnsupported},
		{"zip", []byte("PK\x03\x04...."), ErrUnsupported},
		{"text", text, ErrNotTar},
		{"gzip of text", gz(text), ErrNotTar},
		{"zstd of text", zst(text), ErrNotTar},
		{"truncated tar", raw[:len(raw)/2], ErrNotTar},
		{"empty", nil, ErrNotTar},
		{"gzip of nothing", gz(nil), ErrNotTar},
	} {
		_, err := Reader(context.Background(), bytes.NewReader(tc.in))
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func flipLast(b []byte, back int) []byte {
	c := bytes.Clone(b)
	c[len(c)-back] ^= 0xff
	return c
}

// A failing source is reported as it is, not as corrupt content.
func TestReaderSourceError(t *testing.T) {
	t.Parallel()
	boom := errors.New("network went away")
	in := io.MultiReader(bytes.NewReader(gz(mkTar(t, 3<<20))[:1<<20]), errReader{boom})
	_, err := Reader(context.Background(), in)
	if !errors.Is(err, boom) || errors.Is(err, ErrCorrupt) {
		t.Errorf("err = %v, want the source's error only", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Reader(ctx, bytes.NewReader(gz(mkTar(t, 1<<10)))); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestSniffV7Tar(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Name: "x", Mode: 0o644, Format: tar.FormatGNU})
	_ = tw.Close()
	b := buf.Bytes()
	copy(b[257:265], make([]byte, 8)) // strip the magic: a v7 header
	// Fix up the checksum for the changed bytes.
	var s int64
	for i, c := range b[:512] {
		if i >= 148 && i < 156 {
			c = ' '
		}
		s += int64(c)
	}
	copy(b[148:156], []byte(fmtOctal(s)))
	if c, err := Sniff(b); err != nil || c != None {
		t.Errorf("v7 tar: %v %v", c, err)
	}
}

func fmtOctal(n int64) string {
	out := []byte("0000000\x00")
	for i := 6; i >= 0 && n > 0; i-- {
		out[i] = byte('0' + n%8)
		n /= 8
	}
	return string(out)
}

func FuzzSniff(f *testing.F) {
	f.Add([]byte{0x1f, 0x8b, 8})
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd})
	f.Add(make([]byte, 512))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Sniff(b)
		if (err == nil) == (c == "") {
			t.Fatalf("Sniff = %q, %v", c, err)
		}
	})
}

func FuzzReader(f *testing.F) {
	f.Add(gz(mkTar(f, 100)))
	f.Add(mkTar(f, 10))
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := Reader(context.Background(), bytes.NewReader(b))
		if err == nil && (res.Digest.String() != sum(b) || res.Size != int64(len(b))) {
			t.Fatalf("digest %s of %d bytes is wrong", res.Digest, res.Size)
		}
	})
}
