package anchor

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"

	"github.com/evidence-auditd/evidence-auditd/internal/atomicfile"
)

// DefaultDir is the anchors directory of a ledger when anchor.dir is not
// set: "<ledger file>.anchors", beside it.
func DefaultDir(ledgerPath string) string { return ledgerPath + ".anchors" }

// Files in an anchors directory, per run (six digits, zero-padded):
//
//	run-000007.note            the anchor: a C2SP signed note (or its body, unsigned)
//	run-000007.sigstore.json   the Sigstore bundle over the note body (keyless or logged)
//	run-000007.progress        the progress mark of the run while it was unfinished
const (
	noteExt     = ".note"
	bundleExt   = ".sigstore.json"
	progressExt = ".progress"
)

var fileName = regexp.MustCompile(`^run-([0-9]{6,})(\.note|\.sigstore\.json|\.progress)$`)

func runFile(dir string, runID int64, ext string) string {
	return filepath.Join(dir, fmt.Sprintf("run-%06d%s", runID, ext))
}

// runFiles lists the runs that have a file with ext in dir, ascending; a
// missing directory has none.
func runFiles(dir, ext string) ([]int64, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, e := range entries {
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil || m[2] != ext {
			continue
		}
		id, err := strconv.ParseInt(m[1], 10, 64)
		if err == nil {
			out = append(out, id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// readFile reads a run's file, bounded; ok is false when it does not exist.
func readFile(dir string, runID int64, ext string) (data []byte, ok bool, err error) {
	p := runFile(dir, runID, ext)
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	const limit = 1 << 20
	data, err = io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, false, err
	}
	if len(data) > limit {
		return nil, false, fmt.Errorf("%s: larger than %d bytes", p, limit)
	}
	return data, true, nil
}

// writeFile writes a run's file atomically (readable by everyone: anchors
// are public facts), creating dir.
func writeFile(dir string, runID int64, ext string, data []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return atomicfile.WriteBytes(runFile(dir, runID, ext), 0o644, data)
}
