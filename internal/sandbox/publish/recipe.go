package publish

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/evidence-auditd/evidence-auditd/internal/evidence"
)

// aicrVersion is the AICR release the sandbox's evidence claims to come
// from: recipe.yaml's metadata.version, the predicate's aicrVersion, the
// validator image tags.
const aicrVersion = "v0.13.0"

// criteria are the recipe criteria a recipe name encodes:
// <accelerator>-<service>-<os>-<intent>[-<platform>] (AICR's naming of
// recipes; a profiled recipe adds -<name>-<value>, which is not criteria).
type criteria struct {
	accelerator, service, os, intent, platform string
}

// criteriaOf reads the criteria from the base recipe's name; names that do
// not follow the scheme get h100/eks/ubuntu/training.
func criteriaOf(spec SummarySpec) criteria {
	base := evidence.BaseRecipe(spec.Recipe, spec.Profile)
	parts := strings.Split(base, "-")
	c := criteria{accelerator: "h100", service: "eks", os: "ubuntu", intent: "training"}
	if len(parts) >= 4 {
		c.accelerator, c.service, c.os, c.intent = parts[0], parts[1], parts[2], parts[3]
		c.platform = strings.Join(parts[4:], "-")
	}
	return c
}

// recipeYAML is the bundle's recipe.yaml: the hydrated RecipeResult as AICR
// writes it (kind, apiVersion, metadata with the generating CLI's version,
// criteria, componentRefs, deploymentOrder; two-space indentation, struct
// field order, not sorted). Its canonical digest is what the predicate
// signs, so the key order and the comment here must not matter to it.
func recipeYAML(spec SummarySpec) []byte {
	if spec.RecipeYAML != nil {
		return spec.RecipeYAML
	}
	c := criteriaOf(spec)
	base := evidence.BaseRecipe(spec.Recipe, spec.Profile)
	var b bytes.Buffer
	b.WriteString("# Resolved by aicr " + aicrVersion + "; do not edit.\n")
	b.WriteString("kind: RecipeResult\napiVersion: aicr.run/v1alpha2\nmetadata:\n")
	fmt.Fprintf(&b, "  version: %s\n", aicrVersion)
	fmt.Fprintf(&b, "  appliedOverlays:\n    - base\n    - %s\n    - %s\n", c.service, base)
	if spec.Profile != "" {
		name, value, _ := evidence.ParseProfile(spec.Profile)
		fmt.Fprintf(&b, "  selectedProfile:\n    name: %s\n    value: %s\n", name, value)
		if spec.ProfileAdvertiser != "" {
			fmt.Fprintf(&b, "    advertiser: %s\n", yamlString(spec.ProfileAdvertiser))
		}
	}
	fmt.Fprintf(&b, "criteria:\n  service: %s\n  accelerator: %s\n  os: %s\n  intent: %s\n", c.service, c.accelerator, c.os, c.intent)
	if c.platform != "" {
		fmt.Fprintf(&b, "  platform: %s\n", c.platform)
	}
	b.WriteString("componentRefs:\n")
	for _, ref := range recipeComponents {
		fmt.Fprintf(&b, "  - name: %s\n    namespace: %s\n    chart: %s\n    type: Helm\n    source: %s\n    version: %s\n",
			ref.name, ref.namespace, ref.name, ref.source, ref.version)
	}
	b.WriteString("deploymentOrder:\n")
	for _, ref := range recipeComponents {
		fmt.Fprintf(&b, "  - %s\n", ref.name)
	}
	return b.Bytes()
}

// recipeComponents are the componentRefs of every sandbox recipe; the BOM
// lists their images.
var recipeComponents = []struct{ name, namespace, source, version string }{
	{"gpu-operator", "gpu-operator", "https://helm.ngc.nvidia.com/nvidia", "v25.3.0"},
	{"network-operator", "nvidia-network-operator", "https://helm.ngc.nvidia.com/nvidia", "v25.4.0"},
	{"dynamo-platform", "dynamo-system", "https://helm.ngc.nvidia.com/nvidia/ai-dynamo", "0.4.1"},
}

// validatorImages are the validator images of a run, sorted by image;
// AICR records their digests as "" today.
func validatorImages() []ValidatorImage {
	var out []ValidatorImage
	for _, phase := range []string{"conformance", "deployment", "performance"} {
		out = append(out, ValidatorImage{Image: "ghcr.io/nvidia/aicr-validators/" + phase + ":" + aicrVersion})
	}
	return out
}

// gpuModels names the GPU a fingerprint reports per accelerator.
var gpuModels = map[string]string{
	"h100": "NVIDIA H100 80GB HBM3", "h200": "NVIDIA H200", "gb200": "NVIDIA GB200",
	"a100": "NVIDIA A100-SXM4-80GB", "l40s": "NVIDIA L40S",
}

// fingerprintOf is the cluster fingerprint of a run that matched c.
func fingerprintOf(c criteria) map[string]Dimension {
	model := gpuModels[c.accelerator]
	if model == "" {
		model = "NVIDIA " + strings.ToUpper(c.accelerator)
	}
	osVersion := "24.04"
	if c.os == "cos" {
		osVersion = "121"
	}
	return map[string]Dimension{
		"service":      {Value: c.service},
		"accelerator":  {Value: c.accelerator},
		"gpuModel":     {Value: model},
		"os":           {Value: c.os, Version: osVersion},
		"k8sVersion":   {Value: "v1.32.4"},
		"nodeCount":    {Value: "4"},
		"gpuNodeCount": {Value: "4"},
	}
}

// criteriaMatchOf compares c with the fingerprint it produced: matched.
func criteriaMatchOf(c criteria) CriteriaMatch {
	m := CriteriaMatch{Matched: true}
	for _, d := range []struct{ name, value string }{{"accelerator", c.accelerator}, {"os", c.os}, {"service", c.service}} {
		m.PerDimension = append(m.PerDimension, DimensionMatch{Dimension: d.name, RecipeRequires: d.value, FingerprintProvides: d.value, Match: "matched"})
	}
	return m
}

// perturbHex changes the last hex digit of h.
func perturbHex(h string) string {
	if h == "" {
		return h
	}
	last := h[len(h)-1]
	next := byte('0')
	if last == '0' {
		next = '1'
	}
	return h[:len(h)-1] + string(next)
}
