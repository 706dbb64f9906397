package testutil

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// Htpasswd writes an htpasswd file of user, password pairs at path (a new
// file in a temp dir when path is ""), bcrypt at the minimum cost: the
// tests check behaviour, not strength. It returns the path.
func Htpasswd(t testing.TB, path string, userPass ...string) string {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "htpasswd")
	}
	var b []byte
	for i := 0; i+1 < len(userPass); i += 2 {
		h, err := bcrypt.GenerateFromPassword([]byte(userPass[i+1]), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, userPass[i]+":"+string(h)+"\n"...)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
