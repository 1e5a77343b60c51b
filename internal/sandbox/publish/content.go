package publish

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Media types of the files inside the summary layer, as listed in
// manifest.json.
const (
	MediaTypeYAML      = "application/yaml"
	MediaTypeCycloneDX = "application/vnd.cyclonedx+json"
	MediaTypeCTRF      = "application/json"
	MediaTypeInToto    = "application/vnd.in-toto+json"
)

// Phases are the validation phases of a summary bundle, in run order.
var Phases = []string{"deployment", "performance", "conformance"}

// phaseChecks names the tests each phase reports when nothing fails; a
// skipped test is marked with a leading "~".
var phaseChecks = map[string][]string{
	"deployment": {
		"gpu-operator-ready",
		"network-operator-ready",
		"nodes-schedulable",
	},
	"performance": {
		"nccl-all-reduce-bandwidth",
		"gpu-burn-throughput",
	},
	"conformance": {
		"k8s-conformance-gpu",
		"dra-driver-present",
		"mig-profile-consistency",
		"inference-gateway-serving",
		"~multi-node-nvlink",
	},
}

// yamlString quotes s as a YAML scalar (a JSON string is a valid YAML
// double-quoted scalar).
func yamlString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func snapshotYAML(spec SummarySpec) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "apiVersion: aicr.run/v1alpha1\nkind: Snapshot\nmetadata:\n  name: %s\n  createdAt: %s\n",
		yamlString(spec.Recipe+"-snapshot"), spec.AttestedAt.Format(time.RFC3339))
	if spec.RunID != "" {
		fmt.Fprintf(&b, "  runID: %s\n", yamlString(spec.RunID))
	}
	b.WriteString("measurements:\n" +
		"  - type: K8s\n" +
		"    subtypes:\n" +
		"      - subtype: server\n" +
		"        data:\n" +
		"          version: v1.32.4\n" +
		"  - type: GPU\n" +
		"    subtypes:\n" +
		"      - subtype: smi\n" +
		"        data:\n" +
		"          driver: 570.133.20\n" +
		"          model: NVIDIA H100 80GB HBM3\n" +
		"          count: 8\n")
	return b.Bytes()
}

// bomComponents are the components the BOM lists.
var bomComponents = []struct{ name, version string }{
	{"nvcr.io/nvidia/gpu-operator", "v25.3.0"},
	{"nvcr.io/nvidia/cloud-native/network-operator", "v25.4.0"},
	{"nvcr.io/nvidia/ai-dynamo/dynamo-platform", "0.4.1"},
}

type cdxComponent struct {
	Type    string `json:"type"`
	BOMRef  string `json:"bom-ref"`
	Name    string `json:"name"`
	Version string `json:"version"`
	PURL    string `json:"purl,omitempty"`
}

type cdxBOM struct {
	BOMFormat    string `json:"bomFormat"`
	SpecVersion  string `json:"specVersion"`
	SerialNumber string `json:"serialNumber"`
	Version      int    `json:"version"`
	Metadata     struct {
		Timestamp string `json:"timestamp"`
		Tools     struct {
			Components []cdxComponent `json:"components"`
		} `json:"tools"`
		Component cdxComponent `json:"component"`
	} `json:"metadata"`
	Components []cdxComponent `json:"components"`
}

// bomJSON is a small valid CycloneDX 1.6 document. Its serial number is a
// UUID derived from the spec, so it is stable.
func bomJSON(spec SummarySpec) []byte {
	var bom cdxBOM
	bom.BOMFormat = "CycloneDX"
	bom.SpecVersion = bomSpecVersion
	bom.SerialNumber = "urn:uuid:" + derivedUUID(spec.Recipe, spec.RunID, spec.AttestedAt.Format(time.RFC3339Nano))
	bom.Version = 1
	bom.Metadata.Timestamp = spec.AttestedAt.Format(time.RFC3339)
	bom.Metadata.Tools.Components = []cdxComponent{{Type: "application", BOMRef: "tool-aicr", Name: "aicr", Version: aicrVersion}}
	bom.Metadata.Component = cdxComponent{Type: "application", BOMRef: "recipe", Name: spec.Recipe, Version: "1"}
	for i, c := range bomComponents {
		bom.Components = append(bom.Components, cdxComponent{
			Type:    "container",
			BOMRef:  fmt.Sprintf("component-%d", i+1),
			Name:    c.name,
			Version: c.version,
			PURL:    fmt.Sprintf("pkg:oci/%s@%s?repository_url=%s", lastPathElem(c.name), c.version, c.name),
		})
	}
	return mustJSON(bom)
}

// bomSpecVersion is the CycloneDX version AICR records by default.
const bomSpecVersion = "1.6"

func lastPathElem(s string) string {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return s[i+1:]
		}
	}
	return s
}

// derivedUUID formats a SHA-256 of parts as an RFC 9562 version 8 UUID.
func derivedUUID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	u := h.Sum(nil)[:16]
	u[6] = (u[6] & 0x0f) | 0x80
	u[8] = (u[8] & 0x3f) | 0x80
	x := hex.EncodeToString(u)
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

type ctrfTest struct {
	Name     string `json:"name"`
	Status   string `json:"status"`
	Duration int64  `json:"duration"`
	Suite    string `json:"suite"`
	Message  string `json:"message,omitempty"`
}

type ctrfSummary struct {
	Tests   int   `json:"tests"`
	Passed  int   `json:"passed"`
	Failed  int   `json:"failed"`
	Pending int   `json:"pending"`
	Skipped int   `json:"skipped"`
	Other   int   `json:"other"`
	Start   int64 `json:"start"`
	Stop    int64 `json:"stop"`
}

type ctrfReport struct {
	ReportFormat string `json:"reportFormat"`
	SpecVersion  string `json:"specVersion"`
	Results      struct {
		Tool struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"tool"`
		Summary     ctrfSummary `json:"summary"`
		Tests       []ctrfTest  `json:"tests"`
		Environment struct {
			AppName string            `json:"appName"`
			Extra   map[string]string `json:"extra,omitempty"`
		} `json:"environment"`
	} `json:"results"`
}

// ctrfJSON is a CTRF report for one phase: the phase's checks, the last
// one skipped when marked so, plus failed extra checks when the spec asks
// for failures. It returns the report and its counts.
func ctrfJSON(spec SummarySpec, phase string) ([]byte, PhaseResult) {
	var r ctrfReport
	r.ReportFormat = "CTRF"
	r.SpecVersion = "0.0.0"
	r.Results.Tool.Name = "aicr-validator"
	r.Results.Tool.Version = aicrVersion
	r.Results.Environment.AppName = "aicr"
	r.Results.Environment.Extra = map[string]string{"recipe": spec.Recipe, "phase": phase}
	if spec.RunID != "" {
		r.Results.Environment.Extra["runID"] = spec.RunID
	}

	var counts PhaseResult
	add := func(name, status, msg string) {
		r.Results.Tests = append(r.Results.Tests, ctrfTest{
			Name: name, Status: status, Duration: int64(1000 + 250*len(r.Results.Tests)), Suite: phase, Message: msg,
		})
	}
	for _, c := range phaseChecks[phase] {
		if c[0] == '~' {
			add(c[1:], "skipped", "not applicable to this cluster")
			counts.Skipped++
			continue
		}
		add(c, "passed", "")
		counts.Passed++
	}
	for i := range spec.FailedPhases[phase] {
		add(fmt.Sprintf("%s-check-%02d", phase, i+1), "failed", "expected condition not met within timeout")
		counts.Failed++
	}

	// The validation run ends at AttestedAt; phases ran back to back before.
	stop := spec.AttestedAt.Add(-time.Duration(len(Phases)-phaseIndex(phase)-1) * 10 * time.Minute)
	var total int64
	for _, t := range r.Results.Tests {
		total += t.Duration
	}
	r.Results.Summary = ctrfSummary{
		Tests:   len(r.Results.Tests),
		Passed:  counts.Passed,
		Failed:  counts.Failed,
		Skipped: counts.Skipped,
		Start:   stop.UnixMilli() - total,
		Stop:    stop.UnixMilli(),
	}
	return mustJSON(r), counts
}

func phaseIndex(phase string) int {
	for i, p := range Phases {
		if p == phase {
			return i
		}
	}
	return -1
}

// mustJSON marshals v, indented; v is always one of this package's own
// types, which cannot fail to marshal.
func mustJSON(v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		panic(fmt.Sprintf("publish: marshal %T: %v", v, err))
	}
	return append(b, '\n')
}
