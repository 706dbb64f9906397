package policy

import (
	"errors"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	strict, err := New(nil, nil, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	patterns, err := New([]string{`^https://cdimage\.ubuntu\.com/`, `^https://mirror\.example/`}, []string{`/secret/`}, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	lax, err := New(nil, nil, true, false, []string{"10.1.0.0/16", "fd00::/8"})
	if err != nil {
		t.Fatal(err)
	}
	open, err := New(nil, nil, true, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	loopback, err := New(nil, nil, true, false, []string{"127.0.0.1/32"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		p    *Policy
		url  string
		want string // "" for allowed, else a piece of the refusal
	}{
		{strict, "https://cdimage.ubuntu.com/x.tar.gz", ""},
		{strict, "http://cdimage.ubuntu.com/x.tar.gz", "plain http"},
		{strict, "file:///etc/passwd", `scheme "file"`},
		{strict, "gopher://x/", `scheme "gopher"`},
		{strict, "https://user:pw@example.com/x", "credentials"},
		{strict, "https://127.0.0.1/x", "not a public address"},
		{strict, "https://[::1]/x", "not a public address"},
		{strict, "https://[::ffff:127.0.0.1]/x", "not a public address"},
		{strict, "https://10.0.0.1/x", "not a public address"},
		{strict, "https://169.254.169.254/latest/", "not a public address"},
		{strict, "https://100.64.0.1/x", "not a public address"},
		{strict, "https://0.0.0.0/x", "not a public address"},
		{strict, "https://localhost/x", "loopback name"},
		{strict, "https://api.LOCALHOST./x", "loopback name"},
		{strict, "https://8.8.8.8/x", ""},
		{strict, "https:///nohost", "no host"},
		{patterns, "https://cdimage.ubuntu.com/a.tar.gz", ""},
		{patterns, "https://mirror.example/secret/a.tar.gz", "--deny-url"},
		{patterns, "https://evil.example/a.tar.gz", "no --allow-url"},
		{lax, "http://10.1.2.3/x", ""},
		{lax, "http://10.2.0.1/x", "not a public address"},
		{lax, "http://[fd00::1]/x", ""},
		{lax, "http://localhost/x", "--allow-network 127.0.0.1/32"},
		{loopback, "http://localhost:8080/x", ""},
		{loopback, "http://127.0.0.1:8080/x", ""},
		{loopback, "http://10.0.0.1/x", "not a public address"},
		{open, "http://127.0.0.1:8080/x", ""},
		{open, "ftp://127.0.0.1/x", `scheme "ftp"`},
	} {
		err := tc.p.Check(tc.url)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.url, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrRefused)):
			t.Errorf("%s: err = %v, want %q", tc.url, err, tc.want)
		}
	}
}

func TestNewRejectsBadFlags(t *testing.T) {
	t.Parallel()
	if _, err := New([]string{"("}, nil, false, false, nil); err == nil {
		t.Error("bad --allow-url accepted")
	}
	if _, err := New(nil, []string{"[z-a]"}, false, false, nil); err == nil {
		t.Error("bad --deny-url accepted")
	}
	if _, err := New(nil, nil, false, false, []string{"10.0.0.0/33"}); err == nil {
		t.Error("bad --allow-network accepted")
	}
}

func TestCanonicalForm(t *testing.T) {
	t.Parallel()
	deny, err := New(nil, []string{`^https://evil\.example/`}, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	allow, err := New([]string{`^https://good\.example/`}, nil, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{"HTTPS://EVIL.EXAMPLE/x", "https://Evil.Example./x", "https://evil.example:443/x", "HTTPS://evil.EXAMPLE.:443/x"} {
		if err := deny.Check(raw); err == nil || !strings.Contains(err.Error(), "--deny-url") {
			t.Errorf("%s slipped past --deny-url: %v", raw, err)
		}
	}
	for raw, want := range map[string]string{
		"https://GOOD.example:443/A/b?Q=1": "https://good.example/A/b?Q=1",
		"https://good.example./x":          "https://good.example/x",
	} {
		got, err := allow.Canonical(raw)
		if err != nil || got != want {
			t.Errorf("Canonical(%s) = %q, %v; want %q", raw, got, err, want)
		}
	}
	for _, raw := range []string{"https://good.example:8443/x", "https://good.example.evil/x", "http://good.example/x"} {
		if err := allow.Check(raw); err == nil {
			t.Errorf("%s allowed", raw)
		}
	}
	if got, _ := New(nil, nil, true, true, nil); got != nil {
		if c, err := got.Canonical("http://[::1]:80/x"); err != nil || c != "http://[::1]/x" {
			t.Errorf("IPv6 canonical = %q, %v", c, err)
		}
	}
}

func TestCanonicalRefusesAmbiguousHostsAndPorts(t *testing.T) {
	t.Parallel()
	open, err := New(nil, []string{`^http://localhost:15002/`}, true, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	strict, err := New(nil, nil, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Leading zeros are the plain port: the deny rule sees it.
	for _, raw := range []string{"http://localhost:015002/x", "http://localhost:0015002/x"} {
		if err := open.Check(raw); err == nil || !strings.Contains(err.Error(), "--deny-url") {
			t.Errorf("%s: %v, want --deny-url", raw, err)
		}
	}
	if c, err := open.Canonical("http://example.com:080/x"); err != nil || c != "http://example.com/x" {
		t.Errorf("port 080: %q, %v", c, err)
	}
	for _, raw := range []string{"http://example.com:99999/x", "http://example.com:+80/x", "http://example.com:0x50/x"} {
		if err := open.Check(raw); err == nil {
			t.Errorf("%s allowed", raw)
		}
	}
	// Hosts Go's client maps to ASCII are matched as it dials them.
	for _, raw := range []string{"http://ｌｏｃａｌｈｏｓｔ:15002/x", "http://ⓛocalhost:15002/x", "http://LOCALHOST:15002/x"} {
		if err := open.Check(raw); err == nil || !strings.Contains(err.Error(), "--deny-url") {
			t.Errorf("%s: %v, want --deny-url", raw, err)
		}
	}
	for _, raw := range []string{"http://１２７.０.０.１/x", "http://127。0。0。1/x", "http://ｌｏｃａｌｈｏｓｔ/x"} {
		if err := strict.Check(raw); err == nil {
			t.Errorf("%s allowed by the address rules", raw)
		}
	}
	// IPv4 in other notations: refused whatever the address rules.
	for _, raw := range []string{"http://2130706433/x", "http://0x7f000001/x", "http://0177.0.0.1/x", "http://127.1/x", "http://0/x", "http://1.2.3.0x4/x", "http://01.2.3.4/x"} {
		for _, p := range []*Policy{strict, open} {
			if err := p.Check(raw); err == nil || !strings.Contains(err.Error(), "ends in a number") {
				t.Errorf("%s: %v", raw, err)
			}
		}
	}
	for _, raw := range []string{"http://8.8.8.8/x", "http://v1.example/x", "http://1x.example/x", "http://example.123abc/x"} {
		if err := strict.Check(raw); err != nil {
			t.Errorf("%s refused: %v", raw, err)
		}
	}
}
