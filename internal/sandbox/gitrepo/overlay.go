package gitrepo

import "strings"

// Recipe is one recipe overlay, written to recipes/overlays/<Name>.yaml.
type Recipe struct {
	// Name is the base recipe name, e.g. h100-aks-ubuntu-inference.
	Name string
	// Profile, when set, is listed under spec.profiles (e.g.
	// "gpuStack=bundle-installer"); the profiled recipe's evidence is routed
	// through this base overlay (SPEC §2.3).
	Profile string
	// Maintainers become spec.maintainers; nil omits the block, so routing
	// falls back to CODEOWNERS.
	Maintainers []Maintainer
}

// Maintainer is one spec.maintainers entry (SPEC §2.3). Empty fields are
// omitted.
type Maintainer struct {
	Handle     string // GitHub user, or org/team
	Org        string
	Escalation string // durable contact (DL or shared mailbox)
}

// OverlayPath is the path of recipe's overlay: recipes/overlays/<recipe>.yaml.
func OverlayPath(recipe string) string {
	return "recipes/overlays/" + recipe + ".yaml"
}

// OverlayYAML renders r as a RecipeMetadata overlay. Criteria are derived
// from the usual <accelerator>-<service>-<os>-<intent>[-...] name shape when
// the name has at least four parts.
func OverlayYAML(r Recipe) []byte {
	var b strings.Builder
	b.WriteString("kind: RecipeMetadata\napiVersion: aicr.run/v1alpha1\nmetadata:\n")
	keyValue(&b, "  ", "name", r.Name)
	b.WriteString("spec:\n")
	keyValue(&b, "  ", "description", "Sandbox recipe "+r.Name)
	if parts := strings.Split(r.Name, "-"); len(parts) >= 4 {
		b.WriteString("  criteria:\n")
		keyValue(&b, "    ", "accelerator", parts[0])
		keyValue(&b, "    ", "service", parts[1])
		keyValue(&b, "    ", "os", parts[2])
		keyValue(&b, "    ", "intent", parts[3])
	}
	if r.Profile != "" {
		b.WriteString("  profiles:\n    - " + scalar(r.Profile) + "\n")
	}
	if r.Maintainers != nil {
		if len(r.Maintainers) == 0 {
			b.WriteString("  maintainers: []\n")
		} else {
			b.WriteString("  maintainers:\n")
		}
		for _, m := range r.Maintainers {
			var e strings.Builder
			keyValue(&e, "      ", "handle", m.Handle)
			keyValue(&e, "      ", "org", m.Org)
			keyValue(&e, "      ", "escalation", m.Escalation)
			if e.Len() == 0 {
				b.WriteString("    - {}\n")
				continue
			}
			b.WriteString("    - " + e.String()[6:])
		}
	}
	return []byte(b.String())
}
