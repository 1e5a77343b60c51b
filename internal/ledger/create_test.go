package ledger_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

// createEnv names the directory the create helper makes ledgers in.
const createEnv = "LEDGER_CREATE_HELPER"

// TestCreateHelper is not a test: TestKillDuringCreate re-runs the test
// binary with createEnv set, and this creates new ledgers one after the
// other, printing "made N" after each, until it is killed.
func TestCreateHelper(t *testing.T) {
	dir := os.Getenv(createEnv)
	if dir == "" {
		t.Skip("helper process for TestKillDuringCreate")
	}
	for i := 0; ; i++ {
		db, err := ledger.Open(context.Background(), filepath.Join(dir, fmt.Sprintf("ledger-%d.db", i)))
		if err != nil {
			fmt.Fprintln(os.Stderr, "create helper:", err)
			os.Exit(2)
		}
		db.Close()
		fmt.Printf("made %d\n", i)
	}
}

// TestKillDuringCreate kills a process while it creates ledgers: every
// ledger file that exists afterwards must be complete (read-only open and
// verify work: SPEC §6, a kill leaves the ledger consistent), and the
// temporary file of the interrupted one goes with the next Open of it.
func TestKillDuringCreate(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	ctx := context.Background()
	for round, after := range []int{3, 8, 15} {
		dir := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^TestCreateHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), createEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		for n := 0; n < after && sc.Scan(); n++ {
		}
		// Most of the helper's time is spent creating: a kill now lands
		// inside a create (or between two, which proves less but no harm).
		time.Sleep(time.Duration(round) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()

		entries, _ := os.ReadDir(dir)
		var residue []string
		for _, e := range entries {
			name := e.Name()
			switch {
			case strings.HasSuffix(name, ".db"):
				db, err := ledger.OpenReadOnly(ctx, filepath.Join(dir, name))
				if err != nil {
					t.Fatalf("round %d: %s after the kill: %v", round, name, err)
				}
				if rep, err := db.Verify(ctx); err != nil || !rep.OK {
					t.Errorf("round %d: %s: verify = %+v, %v", round, name, rep, err)
				}
				db.Close()
			case strings.Contains(name, ".init-"):
				residue = append(residue, name)
			}
		}
		for _, r := range residue {
			base := strings.TrimPrefix(r[:strings.Index(r, ".init-")], ".")
			db, err := ledger.Open(ctx, filepath.Join(dir, base))
			if err != nil {
				t.Fatalf("round %d: Open %s after the kill: %v", round, base, err)
			}
			db.Close()
			if _, err := os.Stat(filepath.Join(dir, r)); err == nil {
				t.Errorf("round %d: residue %s survived the next Open of %s", round, r, base)
			}
		}
	}
}
