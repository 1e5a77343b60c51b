package ledger_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

// crashEnv names the ledger the helper process appends to.
const crashEnv = "LEDGER_CRASH_HELPER"

// TestCrashHelper is not a test: TestKillMidWrite re-runs the test binary
// with crashEnv set, and this appends results to the ledger in a tight loop,
// resuming the incomplete run if there is one, printing "seq N" after each
// commit, until it is killed.
func TestCrashHelper(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("helper process for TestKillMidWrite")
	}
	ctx := context.Background()
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "crash helper:", err)
		os.Exit(2)
	}
	db, err := ledger.Open(ctx, path)
	if err != nil {
		fail(err)
	}
	run, err := db.IncompleteRun(ctx)
	if errors.Is(err, ledger.ErrNotFound) {
		run, err = db.BeginRun(ctx, ledger.RunMeta{Repo: "/srv/aicr", Ref: "main", Commit: "c0ffee", AsOf: t0})
	}
	if err != nil {
		fail(err)
	}
	done, err := db.ResultKeys(ctx, run.ID)
	if err != nil {
		fail(err)
	}
	for i := 0; i < 1_000_000; i++ {
		r := result(i)
		if done[r.Key] {
			continue
		}
		seq, err := db.AppendResult(ctx, run.ID, r)
		if err != nil {
			fail(err)
		}
		fmt.Printf("seq %d\n", seq)
	}
	fail(errors.New("was never killed"))
}

// TestKillMidWrite kills a writer process with SIGKILL while it appends, three
// times over the same run; after each kill the ledger must open, verify, and
// hold every row the writer reported committed, with no gap and at most the
// one row it committed but had not yet reported (SPEC §6).
func TestKillMidWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	ctx := context.Background()
	path := ledgerPath(t)
	var runID int64
	for round := 1; round <= 3; round++ {
		lastPrinted := killWriterAfter(t, path, 20)

		db, err := ledger.Open(ctx, path)
		if err != nil {
			t.Fatalf("round %d: Open after kill: %v", round, err)
		}
		rep, err := db.Verify(ctx)
		if err != nil {
			t.Fatalf("round %d: Verify: %v", round, err)
		}
		if !rep.OK {
			t.Fatalf("round %d: Verify not OK after kill: %+v", round, rep.FirstBad)
		}
		if rep.Rows < lastPrinted || rep.Rows > lastPrinted+1 {
			t.Errorf("round %d: ledger holds %d rows, writer reported %d committed; want %d or %d",
				round, rep.Rows, lastPrinted, lastPrinted, lastPrinted+1)
		}
		if rep.HeadSeq != rep.Rows {
			t.Errorf("round %d: head seq %d with %d rows, want equal (no gaps)", round, rep.HeadSeq, rep.Rows)
		}
		run, err := db.IncompleteRun(ctx)
		if err != nil {
			t.Fatalf("round %d: IncompleteRun: %v", round, err)
		}
		if runID != 0 && run.ID != runID {
			t.Errorf("round %d: incomplete run %d, want the resumed run %d", round, run.ID, runID)
		}
		runID = run.ID
		keys, err := db.ResultKeys(ctx, run.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := int64(len(keys)), rep.Rows; got != want {
			t.Errorf("round %d: run has %d distinct pointers for %d rows, want equal (no duplicates)", round, got, want)
		}
		db.Close()
	}

	db := openAt(t, path)
	finishRun(t, db, runID)
	rep, err := db.Verify(ctx)
	if err != nil || !rep.OK {
		t.Fatalf("Verify after finishing the resumed run = %+v, %v; want OK", rep, err)
	}
}

// killWriterAfter starts the helper on path, waits until it has reported n
// more commits, checks a read-only reader sees them while the writer is still
// running, SIGKILLs it and returns the last seq it reported.
func killWriterAfter(t *testing.T, path string, n int) int64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var last int64
	seen := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		s, ok := strings.CutPrefix(sc.Text(), "seq ")
		if !ok {
			continue
		}
		if last, err = strconv.ParseInt(s, 10, 64); err != nil {
			t.Fatalf("helper printed %q", sc.Text())
		}
		seen++
		if seen == n {
			checkReaderSees(t, path, last)
			if err := cmd.Process.Kill(); err != nil {
				t.Fatalf("kill helper: %v", err)
			}
		}
	}
	err = cmd.Wait()
	if seen < n {
		t.Fatalf("helper exited after %d commits (%v): %s", seen, err, stderr.String())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Exited() {
		t.Fatalf("helper was not killed: %v: %s", err, stderr.String())
	}
	return last
}

func checkReaderSees(t *testing.T, path string, seq int64) {
	t.Helper()
	ctx := context.Background()
	ro, err := ledger.OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatalf("OpenReadOnly while the writer runs: %v", err)
	}
	defer ro.Close()
	got, _, err := ro.ChainHead(ctx)
	if err != nil {
		t.Fatalf("ChainHead while the writer runs: %v", err)
	}
	if got < seq {
		t.Errorf("reader sees head %d, writer reported %d committed", got, seq)
	}
}
