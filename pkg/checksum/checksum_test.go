package checksum

import (
	"errors"
	"strings"
	"testing"
)

const (
	h1 = "f7d193700113bc4a44551cda1a509802f85978a6ea11f0f40e733de33a2b121a"
	h2 = "0000000000000000000000000000000000000000000000000000000000000001"
)

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		want     map[string]string
		bare     string
	}{
		{"gnu", h1 + "  ubuntu-base.tar.gz\n" + h2 + " *binary mode.iso\n", map[string]string{"ubuntu-base.tar.gz": h1, "binary mode.iso": h2}, ""},
		{"paths and upper case", strings.ToUpper(h1) + "  ./dir/x.tar.gz\n", map[string]string{"x.tar.gz": h1}, ""},
		{"bsd", "SHA256 (alpine.tar.gz) = " + h1 + "\n", map[string]string{"alpine.tar.gz": h1}, ""},
		{"bare", h1 + "\n", map[string]string{}, h1},
		{"signed", "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n" + h1 + "  a.tar.gz\n-----BEGIN PGP SIGNATURE-----\nabc\n", map[string]string{"a.tar.gz": h1}, ""},
		{"md5 lines skipped", "d41d8cd98f00b204e9800998ecf8427e  a.tar.gz\n" + h1 + "  b.tar.gz\n", map[string]string{"b.tar.gz": h1}, ""},
		{"crlf", h1 + "  a.tar.gz\r\n", map[string]string{"a.tar.gz": h1}, ""},
	} {
		f, err := Parse(tc.name, strings.NewReader(tc.in))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if f.Bare != tc.bare || len(f.ByName) != len(tc.want) {
			t.Errorf("%s: got %+v", tc.name, f)
		}
		for k, v := range tc.want {
			if got, ok := f.Lookup(k); !ok || got != v {
				t.Errorf("%s: %s = %q", tc.name, k, got)
			}
		}
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for name, in := range map[string]string{
		"empty":     "",
		"prose":     "hello world\n",
		"two bare":  h1 + "\n" + h2 + "\n",
		"only md5":  "d41d8cd98f00b204e9800998ecf8427e  a\n",
		"too large": strings.Repeat("x", maxSize+1),
	} {
		if _, err := Parse(name, strings.NewReader(in)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(h1 + "  a.tar.gz\n")
	f.Add("SHA256 (x) = " + h1)
	f.Fuzz(func(t *testing.T, in string) {
		file, err := Parse("fuzz", strings.NewReader(in))
		if err != nil {
			return
		}
		for _, h := range file.ByName {
			if !IsHex256(h) {
				t.Fatalf("non-hex digest %q", h)
			}
		}
		if file.Bare != "" && !IsHex256(file.Bare) {
			t.Fatalf("non-hex bare digest %q", file.Bare)
		}
	})
}
