package config_test

import (
	"os"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/evidence-auditd/evidence-auditd/internal/config"
)

const examplePath = "../../deploy/config.example.yaml"

// TestExampleDocumentsEveryKey keeps deploy/config.example.yaml complete:
// every configuration key appears in it, and it loads strictly.
func TestExampleDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		if n.Kind != yaml.MappingNode {
			have[strings.TrimSuffix(prefix, ".")] = true
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			walk(n.Content[i+1], prefix+n.Content[i].Value+".")
		}
	}
	walk(doc.Content[0], "")
	var missing []string
	for _, v := range config.EnvVars() {
		if strings.HasPrefix(v.Key, "(") {
			continue
		}
		if !have[v.Key] {
			missing = append(missing, v.Key)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("deploy/config.example.yaml does not document: %s", strings.Join(missing, ", "))
	}
	cfg, err := config.Load(examplePath, func(string) string { return "" })
	if err != nil {
		t.Fatalf("example does not load: %v", err)
	}
	if err := cfg.Finalize(); err != nil {
		t.Fatalf("example does not validate: %v", err)
	}
}
