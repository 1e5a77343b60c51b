package atomicfile

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
)

// tempKind names Write's temporary files (TempPattern, RemoveStale).
const tempKind = "tmp"

// Write creates or replaces path with what fn writes, with permission perm.
// It first removes what earlier writers of path left when they were killed
// mid-write, so that no crash leaves temporary files forever.
func Write(path string, perm os.FileMode, fn func(io.Writer) error) error {
	dir := filepath.Dir(path)
	RemoveStale(path, tempKind)
	f, err := os.CreateTemp(dir, TempPattern(path, tempKind))
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	bw := bufio.NewWriter(f)
	err = fn(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, perm)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync() // best effort: not every file system supports it
		d.Close()
	}
	return nil
}

// WriteBytes is Write for content already in memory.
func WriteBytes(path string, perm os.FileMode, data []byte) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}
