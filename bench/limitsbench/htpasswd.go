package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// writeHtpasswd writes an htpasswd file of users with random passwords,
// hashed with bcrypt at cost, and returns the passwords.
func writeHtpasswd(path string, users []string, cost int) (map[string]string, error) {
	pw := map[string]string{}
	var b strings.Builder
	for _, u := range users {
		pw[u] = randHex(12)
		h, err := bcrypt.GenerateFromPassword([]byte(pw[u]), cost)
		if err != nil {
			return nil, fmt.Errorf("hashing the password of %s: %w", u, err)
		}
		fmt.Fprintf(&b, "%s:%s\n", u, h)
	}
	return pw, os.WriteFile(path, []byte(b.String()), 0o600)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
