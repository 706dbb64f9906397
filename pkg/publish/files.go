package publish

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
)

// CreateTemp creates a new file in dir for writing, named prefix plus
// random characters, with mode 0666 less the umask (0644 as a rule), as
// any file a user creates. os.CreateTemp would make it 0600, and a
// renamed layout blob or tarball would stay unreadable to others.
func CreateTemp(dir, prefix string) (*os.File, error) {
	for range 100 {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(filepath.Join(dir, prefix+hex.EncodeToString(b[:])), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if !errors.Is(err, os.ErrExist) {
			return f, err
		}
	}
	return nil, errors.New("cannot create a temporary file in " + dir)
}

// writeFileAtomic replaces path with data through a temporary file, with
// mode 0666 less the umask.
func writeFileAtomic(path string, data []byte) error {
	f, err := CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
