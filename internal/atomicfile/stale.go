package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// staleAge is how old a temporary file whose writer cannot be identified
// must be before it counts as residue of a crash.
const staleAge = time.Hour

// TempPattern is the os.CreateTemp pattern of a temporary file that will
// replace path: hidden, beside it, and naming the writing process so that a
// later writer can tell a crash's residue from a live writer's work.
func TempPattern(path, kind string) string {
	return "." + filepath.Base(path) + "." + kind + "-" + strconv.Itoa(os.Getpid()) + "-*"
}

// RemoveStale deletes the temporary files that writers of path (kind as
// given to TempPattern) left behind when they were killed: those whose
// process no longer exists, and those of unknown origin older than an
// hour. It returns the names it removed; errors are ignored (a file that
// cannot be removed stays for the next attempt).
func RemoveStale(path, kind string) []string {
	dir := filepath.Dir(path)
	prefix := "." + filepath.Base(path) + "." + kind + "-"
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range entries {
		name := e.Name()
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok || e.IsDir() || !stale(rest, e) {
			continue
		}
		if os.Remove(filepath.Join(dir, name)) == nil {
			removed = append(removed, name)
		}
	}
	return removed
}

// RemoveStaleIn is RemoveStale for every file of dir: it deletes the
// temporary files of kind (TempPattern) that writers of any file in dir
// left behind when they were killed. For a directory of many files written
// once each (content-addressed blobs), where scanning it before every
// write would cost more than the writes.
func RemoveStaleIn(dir, kind string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	marker := "." + kind + "-"
	var removed []string
	for _, e := range entries {
		name := e.Name()
		i := strings.LastIndex(name, marker)
		if !strings.HasPrefix(name, ".") || i < 0 || e.IsDir() || !stale(name[i+len(marker):], e) {
			continue
		}
		if os.Remove(filepath.Join(dir, name)) == nil {
			removed = append(removed, name)
		}
	}
	return removed
}

// stale decides for the part of a temporary file's name after its prefix:
// "<pid>-<random>" is stale when no process has that id; anything else
// when it is older than staleAge.
func stale(rest string, e os.DirEntry) bool {
	if pidText, _, ok := strings.Cut(rest, "-"); ok {
		if pid, err := strconv.Atoi(pidText); err == nil && pid > 0 {
			if pid == os.Getpid() {
				return false
			}
			err := syscall.Kill(pid, 0)
			return errors.Is(err, syscall.ESRCH)
		}
	}
	info, err := e.Info()
	return err == nil && time.Since(info.ModTime()) > staleAge
}
