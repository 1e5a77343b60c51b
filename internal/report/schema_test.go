package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/evidence-auditd/evidence-auditd/internal/ledger"
	"github.com/evidence-auditd/evidence-auditd/internal/report"
	"github.com/evidence-auditd/evidence-auditd/internal/report/reporttest"
)

// schemaPath is the JSON Schema of the report, in the repository's docs/.
var schemaPath = filepath.Join("..", "..", "docs", "report.schema.json")

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	abs, err := filepath.Abs(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(abs)
	if err != nil {
		t.Fatalf("compile %s: %v", schemaPath, err)
	}
	return sch
}

func decode(t *testing.T, data []byte) any {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("report JSON does not parse: %v", err)
	}
	return v
}

// TestJSONMatchesSchema validates real output — both complete runs of the
// fixture and an unfinished run — against docs/report.schema.json.
func TestJSONMatchesSchema(t *testing.T) {
	sch := compileSchema(t)
	db, runs, _ := fixtureDB(t)
	third, err := reporttest.AddUnfinishedRun(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	// A run killed before its first result: no pointers, no recipes.
	empty, err := db.BeginRun(context.Background(), ledger.RunMeta{Repo: reporttest.Repo, Ref: reporttest.Ref, Commit: "c0ffee",
		AsOf: reporttest.Started3, StartedAt: reporttest.Started3})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{runs.First, runs.Second, third, empty.ID} {
		out := render(t, load(t, db, id), report.FormatJSON)
		if err := sch.Validate(decode(t, out)); err != nil {
			t.Errorf("run %d: report does not match the schema: %v", id, err)
		}
	}
}

// TestSchemaRejects keeps the schema from being vacuous: documents that
// break the contract in typical ways fail validation.
func TestSchemaRejects(t *testing.T) {
	sch := compileSchema(t)
	db, runs, _ := fixtureDB(t)
	good := render(t, load(t, db, runs.Second), report.FormatJSON)
	mutations := map[string]func(m map[string]any){
		"unknown verdict":         func(m map[string]any) { ptr(m, 0)["verdict"] = "ok" },
		"empty removedCommit":     func(m map[string]any) { ptr(m, 0)["removedCommit"] = "" },
		"healthy with a class":    func(m map[string]any) { ptr(m, 0)["class"] = "signature" },
		"invalid with no class":   func(m map[string]any) { ptrWhere(m, "invalid")["class"] = nil },
		"schemaVersion 2":         func(m map[string]any) { m["schemaVersion"] = "2" },
		"missing summary field":   func(m map[string]any) { delete(m["summary"].(map[string]any), "rekorOnly") },
		"unknown age":             func(m map[string]any) { ptr(m, 0)["age"] = "old" },
		"local time":              func(m map[string]any) { m["run"].(map[string]any)["asOf"] = "2026-09-01T05:00:00+02:00" },
		"bad signer class":        func(m map[string]any) { ptr(m, 0)["signer"].(map[string]any)["class"] = "friend" },
		"recert without a reason": func(m map[string]any) { m["recipes"].([]any)[0].(map[string]any)["reason"] = nil },
	}
	for name, mutate := range mutations {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(good, &m); err != nil {
				t.Fatal(err)
			}
			mutate(m)
			data, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(decode(t, data)); err == nil {
				t.Errorf("the schema accepts a report with %s", name)
			}
		})
	}
}

func ptr(m map[string]any, i int) map[string]any {
	return m["pointers"].([]any)[i].(map[string]any)
}

func ptrWhere(m map[string]any, verdict string) map[string]any {
	for _, p := range m["pointers"].([]any) {
		if p.(map[string]any)["verdict"] == verdict {
			return p.(map[string]any)
		}
	}
	panic("no pointer with verdict " + verdict)
}
