package build

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/foreignlayers/fl/pkg/describe"
)

// readLocal describes a local file layer, or tars a directory into
// TempDir first. It returns the file whose bytes are the layer.
func (b *Builder) readLocal(ctx context.Context, p string) (*describe.Result, string, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, "", fmt.Errorf("layer %s: %w", p, err)
	}
	blob := p
	if fi.IsDir() {
		if blob, err = TarDir(ctx, p, b.TempDir, b.Created); err != nil {
			return nil, "", fmt.Errorf("layer %s: %w", p, err)
		}
	}
	f, err := os.Open(blob)
	if err != nil {
		return nil, "", fmt.Errorf("layer %s: %w", p, err)
	}
	defer f.Close()
	bar := b.Progress.Start(p, fi.Size())
	res, err := describe.Reader(ctx, bar.Wrap(f))
	bar.Done(err)
	if err != nil {
		return nil, "", fmt.Errorf("layer %s: %w", p, err)
	}
	return res, blob, nil
}

// TarDir writes dir as a gzip-compressed tar into a new file under tmp and
// returns its path. The archive is reproducible: entries in lexical order,
// every time set to mtime, owners 0:0 with no names. Regular files,
// directories and symlinks are kept; other file types are an error.
func TarDir(ctx context.Context, dir, tmp string, mtime time.Time) (string, error) {
	out, err := os.CreateTemp(tmp, "layer-*.tar.gz")
	if err != nil {
		return "", err
	}
	ok := false
	defer func() {
		if !ok {
			_ = out.Close()
			_ = os.Remove(out.Name())
		}
	}()
	zw, err := gzip.NewWriterLevel(out, gzip.DefaultCompression)
	if err != nil {
		return "", err
	}
	tw := tar.NewWriter(zw)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		return addEntry(tw, p, filepath.ToSlash(rel), d, mtime)
	})
	if err != nil {
		return "", err
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	if err := out.Close(); err != nil {
		return "", err
	}
	ok = true
	return out.Name(), nil
}

func addEntry(tw *tar.Writer, p, rel string, d fs.DirEntry, mtime time.Time) error {
	fi, err := d.Info()
	if err != nil {
		return err
	}
	link := ""
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		if link, err = os.Readlink(p); err != nil {
			return err
		}
	case fi.Mode().IsRegular(), fi.IsDir():
	default:
		return fmt.Errorf("%s: %s files cannot go into a layer", p, fi.Mode().Type())
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return err
	}
	hdr.Name = rel
	if fi.IsDir() {
		hdr.Name += "/"
	}
	hdr.ModTime = mtime
	hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
	hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
	hdr.Format = tar.FormatPAX
	hdr.PAXRecords = nil
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(tw, f)
	return err
}
