package ledger_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/evidence-auditd/evidence-auditd/internal/audit"
	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
)

func TestExport(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	if err := db.ApplyWalk(ctx, "aicr", &audit.WalkDelta{Ref: "main", Head: "c1", Full: true,
		Added: []audit.PointerVersion{pv("recipes/evidence/a.yaml", "c1", t0, "a")}}); err != nil {
		t.Fatal(err)
	}
	run := beginRun(t, db)
	appendN(t, db, run.ID, 0, 2)
	finishRun(t, db, run.ID)
	if err := db.PutBundle(ctx, ledger.BundleRecord{Digest: "sha256:00", SigstoreBundle: []byte("{}"), Statement: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	if err := db.PutCheckpoint(ctx, ledger.Checkpoint{LogID: "log", TreeSize: 1, RootHash: []byte{1}, RunID: run.ID}); err != nil {
		t.Fatal(err)
	}
	if err := db.PutIssue(ctx, ledger.Issue{Recipe: "r", Kind: "lost", Number: 1, State: "open"}); err != nil {
		t.Fatal(err)
	}

	var a, b bytes.Buffer
	if err := db.Export(ctx, &a); err != nil {
		t.Fatal(err)
	}
	if err := db.Export(ctx, &b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Errorf("two exports of the same ledger differ")
	}

	var types []string
	var lastHash string
	sc := bufio.NewScanner(&a)
	for sc.Scan() {
		var rec struct {
			Type string `json:"type"`
			Hash string `json:"hash"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		types = append(types, rec.Type)
		if rec.Type == "result" {
			lastHash = rec.Hash
		}
	}
	want := []string{"run", "walk", "pointerVersion", "result", "result", "bundle", "checkpoint", "issue", "seal"}
	if !reflect.DeepEqual(types, want) {
		t.Errorf("export record types = %v, want %v", types, want)
	}
	if _, head, _ := db.ChainHead(ctx); lastHash != head {
		t.Errorf("last exported result hash = %s, want chain head %s", lastHash, head)
	}
}
