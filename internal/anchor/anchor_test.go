package anchor_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/evidence-auditd/evidence-auditd/internal/anchor"
	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

func TestCheckpointBody(t *testing.T) {
	cp := anchor.Checkpoint{Origin: anchor.Origin(strings.Repeat("ab", 16)), RunID: 7, Rows: 1234, Head: "sha256:" + strings.Repeat("0f", 32)}
	body := cp.Body()
	want := "evidence-auditd.dev/ledger/" + strings.Repeat("ab", 16) + "\nrun 7\nrows 1234\nhead sha256:" + strings.Repeat("0f", 32) + "\n"
	if string(body) != want {
		t.Fatalf("Body =\n%s\nwant\n%s", body, want)
	}
	got, err := anchor.ParseCheckpoint(body)
	if err != nil || got != cp {
		t.Fatalf("ParseCheckpoint = %+v, %v; want %+v", got, err, cp)
	}
	for _, bad := range []string{
		strings.TrimSuffix(want, "\n"),
		strings.Replace(want, "run 7", "run -7", 1),
		strings.Replace(want, "run 7", "run 07", 1),
		strings.Replace(want, "rows", "lines", 1),
		strings.Replace(want, "head sha256:0f", "head sha256:0F", 1),
		strings.Replace(want, "evidence-auditd.dev/ledger/", "example.com/", 1),
		want + "extra\n",
	} {
		if _, err := anchor.ParseCheckpoint([]byte(bad)); err == nil {
			t.Errorf("ParseCheckpoint(%q) accepted", bad)
		}
	}
}

// TestKeyAnchorsCatchAConsistentRewrite: with anchor.key (either
// algorithm), every run's anchor is a note signed by the key, kept in a
// file and in the ledger; Check passes; a rewrite that recomputes every
// hash — which the ledger alone cannot see — is named at its run.
func TestKeyAnchorsCatchAConsistentRewrite(t *testing.T) {
	for _, alg := range []string{"ecdsa", "ed25519"} {
		t.Run(alg, func(t *testing.T) {
			ctx := context.Background()
			key := loadKey(t, keyFile(t, alg))
			s, err := anchor.NewSigner(anchor.SignerOptions{Key: key})
			if err != nil {
				t.Fatal(err)
			}
			f := newFixture(t, s)
			var anchors []*anchor.Anchor
			for i := 0; i < 3; i++ {
				_, a := f.run(t, 5, true)
				anchors = append(anchors, a)
			}
			a := anchors[1]
			if !a.Signed() || !strings.HasPrefix(a.Signature.By, "key "+alg) || len(a.Signature.Warnings) > 0 || a.Signature.Bundle != nil {
				t.Fatalf("anchor = signed %v by %q, warnings %q, bundle %d bytes; want signed by the %s key, no bundle", a.Signed(), a.Signature.By, a.Signature.Warnings, len(a.Signature.Bundle), alg)
			}
			file, err := os.ReadFile(a.NotePath)
			if err != nil || !bytes.Equal(file, a.Note) {
				t.Fatalf("anchor file %s = %q, %v; want the note", a.NotePath, file, err)
			}
			rec, ok, err := f.db.Anchor(ctx, 2)
			if err != nil || !ok || rec.Note != string(a.Note) || !rec.Signed() || rec.LogIndex != -1 {
				t.Fatalf("ledger anchor of run 2 = %+v, %v, %v", rec, ok, err)
			}
			seal, _, _ := f.db.Seal(ctx, 2)
			if a.Head != seal.Head || a.Rows != seal.Rows || a.RunID != 2 {
				t.Errorf("anchor %+v does not carry run 2's seal %+v", a.Checkpoint, seal)
			}
			// A standard C2SP note verifier accepts it.
			v, err := anchor.NoteVerifier(key.PublicKey(), a.Origin)
			if err != nil {
				t.Fatal(err)
			}
			if n, err := note.Open(a.Note, note.VerifierList(v)); err != nil || n.Text != string(a.Checkpoint.Body()) {
				t.Fatalf("note.Open = %v; want the checkpoint body verified", err)
			}

			trust := anchor.Trust{Key: key.PublicKey()}
			rep := f.check(t, trust)
			if !rep.OK() || len(rep.Anchors) != 3 || rep.Newest().RunID != 3 || !strings.HasPrefix(rep.Newest().By, "key ") ||
				len(rep.Newest().Sources) != 2 {
				t.Fatalf("Check = ok %v, first bad %v, anchors %+v", rep.OK(), rep.FirstBad, rep.Anchors)
			}

			f.tamper(t, true, `UPDATE results SET verdict = 'invalid', class = 'signature' WHERE run_id = 2 AND seq = (SELECT max(seq) FROM results WHERE run_id = 2)`)
			if lrep, _ := f.db.Verify(ctx); !lrep.OK {
				t.Fatalf("the rewrite is not consistent: %+v", lrep.FirstBad)
			}
			rep = f.check(t, trust)
			if rep.OK() || rep.FirstBad.RunID != 2 || !strings.Contains(rep.FirstBad.Reason, "rewritten") {
				t.Fatalf("Check after a consistent rewrite of run 2 = %v; want run 2 named", rep.FirstBad)
			}
		})
	}
}

// TestUnsignedAnchors: without key or token, anchors are written unsigned;
// they catch a rewrite of the database alone. Someone who rewrites the
// anchor files too is not caught — what the README says — but once an
// anchor was signed, an unsigned one after it is.
func TestUnsignedAnchors(t *testing.T) {
	ctx := context.Background()
	s, _ := anchor.NewSigner(anchor.SignerOptions{})
	f := newFixture(t, s)
	for i := 0; i < 3; i++ {
		_, a := f.run(t, 4, true)
		if a.Signed() || a.Signature.Bundle != nil || !bytes.Equal(a.Note, a.Checkpoint.Body()) {
			t.Fatalf("anchor without key = %q signed %v; want the bare body", a.Note, a.Signed())
		}
	}
	f.tamper(t, true, `UPDATE run_recipes SET needs_recert = 1 WHERE run_id = 3`)
	rep := f.check(t, anchor.Trust{})
	if rep.OK() || rep.FirstBad.RunID != 3 {
		t.Fatalf("Check after a rewrite of run 3 = %v; want run 3", rep.FirstBad)
	}

	// The attacker rewrites the anchor files and the ledger's copies too.
	seal, _, _ := f.db.Seal(ctx, 3)
	id, _ := f.db.ID(ctx)
	body := anchor.Checkpoint{Origin: anchor.Origin(id), RunID: 3, Rows: seal.Rows, Head: seal.Head}.Body()
	if err := os.WriteFile(filepath.Join(f.dir, "run-000003.note"), body, 0o644); err != nil {
		t.Fatal(err)
	}
	f.tamper(t, false, `UPDATE anchors SET note = '`+string(body)+`' WHERE run_id = 3`)
	if rep := f.check(t, anchor.Trust{}); !rep.OK() {
		t.Fatalf("an unsigned anchor rewritten with the ledger is not detectable, yet Check = %v", rep.FirstBad)
	}

	// With a key from run 4 on, replacing a signed anchor by an unsigned one is caught.
	key := loadKey(t, keyFile(t, "ecdsa"))
	ks, _ := anchor.NewSigner(anchor.SignerOptions{Key: key})
	f.an, _ = anchor.NewAnchorer(f.dir, ks)
	f.an.Bind(ctx, f.db)
	f.run(t, 2, true)
	f.an, _ = anchor.NewAnchorer(f.dir, s)
	f.an.Bind(ctx, f.db)
	f.run(t, 2, true)
	rep = f.check(t, anchor.Trust{Key: key.PublicKey()})
	if rep.OK() || rep.FirstBad.RunID != 5 || !strings.Contains(rep.FirstBad.Reason, "signed anchor was replaced") {
		t.Fatalf("Check with an unsigned anchor after a signed one = %v; want run 5", rep.FirstBad)
	}
}

// TestCheckNamesDeletedAndForeignAnchors: a deleted last run, a deleted
// anchor, an anchor of another ledger, a note signed by another key.
func TestCheckNamesDeletedAndForeignAnchors(t *testing.T) {
	key := loadKey(t, keyFile(t, "ed25519"))
	trust := anchor.Trust{Key: key.PublicKey()}
	build := func(t *testing.T) *fixture {
		s, _ := anchor.NewSigner(anchor.SignerOptions{Key: key})
		f := newFixture(t, s)
		for i := 0; i < 4; i++ {
			f.run(t, 3, true)
		}
		return f
	}
	t.Run("last run deleted whole", func(t *testing.T) {
		f := build(t)
		f.tamper(t, true, `DELETE FROM results WHERE run_id = 4`, `DELETE FROM run_recipes WHERE run_id = 4`,
			`DELETE FROM run_seals WHERE run_id = 4`, `DELETE FROM anchors WHERE run_id = 4`, `DELETE FROM runs WHERE id = 4`)
		if lrep, _ := f.db.Verify(context.Background()); !lrep.OK {
			t.Fatalf("the deletion is not consistent: %+v", lrep.FirstBad)
		}
		rep := f.check(t, trust)
		if rep.OK() || rep.FirstBad.RunID != 4 || rep.FirstBad.Source != anchor.SourceFile {
			t.Fatalf("Check = %v; want run 4 named by its anchor file", rep.FirstBad)
		}
	})
	t.Run("anchor deleted", func(t *testing.T) {
		f := build(t)
		os.Remove(filepath.Join(f.dir, "run-000002.note"))
		f.tamper(t, false, `DELETE FROM anchors WHERE run_id = 2`)
		rep := f.check(t, trust)
		if rep.OK() || rep.FirstBad.RunID != 2 || !strings.Contains(rep.FirstBad.Reason, "no anchor") {
			t.Fatalf("Check = %v; want run 2's missing anchor", rep.FirstBad)
		}
	})
	t.Run("newest anchor missing is pending", func(t *testing.T) {
		f := build(t)
		f.run(t, 2, false)
		if _, err := f.db.FinishRun(context.Background(), 5, true, t0); err != nil {
			t.Fatal(err)
		}
		rep := f.check(t, trust)
		if !rep.OK() || !strings.Contains(strings.Join(rep.Notes, "\n"), "run 5 is sealed but not anchored yet") {
			t.Fatalf("Check = %v, notes %q; want OK with a note", rep.FirstBad, rep.Notes)
		}
		a, ok, err := f.an.AnchorNewest(context.Background(), f.db)
		if err != nil || !ok || a.RunID != 5 {
			t.Fatalf("AnchorNewest = %v, %v, %v; want run 5 anchored", a, ok, err)
		}
		if _, ok, _ := f.an.AnchorNewest(context.Background(), f.db); ok {
			t.Errorf("AnchorNewest anchored twice")
		}
	})
	t.Run("anchor of another ledger", func(t *testing.T) {
		f := build(t)
		f.tamper(t, false, `UPDATE ledger_meta SET value = '`+strings.Repeat("cd", 16)+`' WHERE key = 'id'`)
		rep := f.check(t, trust)
		if rep.OK() || rep.FirstBad.RunID != 1 || !strings.Contains(rep.FirstBad.Reason, "not of this one") {
			t.Fatalf("Check = %v; want run 1, another ledger", rep.FirstBad)
		}
	})
	t.Run("signed by another key", func(t *testing.T) {
		f := build(t)
		rep := f.check(t, anchor.Trust{Key: loadKey(t, keyFile(t, "ed25519")).PublicKey()})
		if rep.OK() || rep.FirstBad.RunID != 1 || !strings.Contains(rep.FirstBad.Reason, "neither the anchor key") {
			t.Fatalf("Check = %v; want run 1 signed by another key", rep.FirstBad)
		}
	})
}

// TestProgressMarksCatchForgedRows: rows forged into an unfinished run (as
// a resumed run would keep them) are named; a process killed between
// writing the mark and committing is not mistaken for forgery.
func TestProgressMarksCatchForgedRows(t *testing.T) {
	ctx := context.Background()
	key := loadKey(t, keyFile(t, "ecdsa"))
	s, _ := anchor.NewSigner(anchor.SignerOptions{Key: key})
	f := newFixture(t, s)
	f.run(t, 3, true)
	run, _ := f.run(t, 4, false)
	trust := anchor.Trust{Key: key.PublicKey()}
	if rep := f.check(t, trust); !rep.OK() {
		t.Fatalf("Check of an unfinished run = %v", rep.FirstBad)
	}
	progress, err := os.ReadFile(filepath.Join(f.dir, "run-000002.progress"))
	if err != nil || !bytes.Contains(progress, []byte("progress of run 2\nrows 7\n")) {
		t.Fatalf("progress mark = %q, %v", progress, err)
	}

	// The mark was written but the commit never landed: the chain ends at
	// the mark's "before".
	failing, _ := ledger.Open(ctx, f.path, ledger.WithAppendHook(func(id int64, b, a ledger.ChainPoint) error {
		if err := f.an.Hook(id, b, a); err != nil {
			return err
		}
		return os.ErrDeadlineExceeded // killed before the commit
	}))
	if _, err := failing.AppendResults(ctx, run.ID, []audit.Result{result(900)}); err == nil {
		t.Fatal("append through the failing hook committed")
	}
	failing.Close()
	if rep := f.check(t, trust); !rep.OK() {
		t.Fatalf("Check after a kill between mark and commit = %v", rep.FirstBad)
	}

	// Forged rows, appended by someone with the ledger code but not the
	// auditor (no progress mark for them).
	f.db.Close()
	forger, err := ledger.Open(ctx, f.path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := forger.AppendResults(ctx, run.ID, []audit.Result{result(901), result(902)}); err != nil {
		t.Fatal(err)
	}
	forger.Close()
	f.open(t)
	if lrep, _ := f.db.Verify(ctx); !lrep.OK {
		t.Fatalf("forged rows do not verify in the ledger: %+v", lrep.FirstBad)
	}
	rep := f.check(t, trust)
	if rep.OK() || rep.FirstBad.RunID != 2 || rep.FirstBad.Source != anchor.SourceProgress || !strings.Contains(rep.FirstBad.Reason, "rows 8..9 were not written by the auditor") {
		t.Fatalf("Check after forged rows = %v; want run 2, rows 8..9", rep.FirstBad)
	}
	// Closing the run does not launder them.
	if _, err := f.db.FinishRun(ctx, run.ID, false, t0); err != nil {
		t.Fatal(err)
	}
	if rep := f.check(t, trust); rep.OK() || rep.FirstBad.RunID != 2 {
		t.Fatalf("Check after the run was closed = %v; want run 2", rep.FirstBad)
	}
}
