package evidence

import (
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxOverlaySize bounds a recipe overlay, in bytes.
const MaxOverlaySize = 1 << 20

const maxMaintainers = 100

// Maintainer is one entry of a recipe overlay's spec.maintainers
// (SPEC §2.3).
type Maintainer struct {
	Handle     string // GitHub user (`alice`) or team (`acme/gpu-recipes`), without '@'
	Org        string // optional affiliation, free text
	Escalation string // optional durable contact (DL or shared mailbox), free text
}

// IsTeam reports whether the handle names a team (org/team). Teams cannot
// be assigned to issues, only @-mentioned.
func (m Maintainer) IsTeam() bool { return strings.Contains(m.Handle, "/") }

var (
	// GitHub user and organisation names: alphanumerics and single inner
	// hyphens, at most 39 characters.
	githubUserRE = regexp.MustCompile(`^[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}$`)
	// GitHub team slugs.
	githubTeamRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$`)
)

// ValidHandle reports whether h is a GitHub user (`alice`) or team
// (`org/team`) handle, without the leading '@'.
func ValidHandle(h string) bool {
	org, team, isTeam := strings.Cut(h, "/")
	if !isTeam {
		return githubUserRE.MatchString(h)
	}
	return githubUserRE.MatchString(org) && githubTeamRE.MatchString(team)
}

// ParseMaintainers reads spec.maintainers from a recipe overlay and ignores
// the rest of it. An overlay without the block (or with a null one) gives
// nil, nil. Within the block, each entry needs a valid handle (a leading
// '@' is tolerated and dropped); unknown keys are errors, so that a
// misspelled escalation is not silently lost. Errors are *SchemaError
// naming the field, or wrap ErrTooLarge.
func ParseMaintainers(overlay []byte) ([]Maintainer, error) {
	if len(overlay) > MaxOverlaySize {
		return nil, fmt.Errorf("overlay: %w: %d bytes, limit is %d", ErrTooLarge, len(overlay), MaxOverlaySize)
	}
	root, err := decodeYAML(overlay, false)
	if err != nil || isNull(root) {
		return nil, err
	}
	top, err := mapping(root, "", nil...)
	if err != nil {
		return nil, err
	}
	if isNull(top["spec"]) {
		return nil, nil
	}
	spec, err := mapping(top["spec"], "spec", nil...)
	if err != nil {
		return nil, err
	}
	if isNull(spec["maintainers"]) {
		return nil, nil
	}
	items, err := sequence(spec["maintainers"], "spec.maintainers", maxMaintainers)
	if err != nil {
		return nil, err
	}
	out := make([]Maintainer, 0, len(items))
	for i, it := range items {
		m, err := parseMaintainer(it, fmt.Sprintf("spec.maintainers[%d]", i))
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func parseMaintainer(n *yaml.Node, field string) (Maintainer, error) {
	var m Maintainer
	fields, err := mapping(n, field, "handle", "org", "escalation")
	if err != nil {
		return m, err
	}
	if m.Handle, err = requiredString(fields, field, "handle"); err != nil {
		return m, err
	}
	m.Handle = strings.TrimPrefix(m.Handle, "@")
	if !ValidHandle(m.Handle) {
		return m, schemaErr(joinField(field, "handle"), fmt.Sprintf("%q is not a GitHub user or org/team handle", truncate(m.Handle)))
	}
	if m.Org, err = optionalString(fields, field, "org"); err != nil {
		return m, err
	}
	if err := checkText(joinField(field, "org"), m.Org, 256); err != nil {
		return m, err
	}
	if m.Escalation, err = optionalString(fields, field, "escalation"); err != nil {
		return m, err
	}
	if err := checkText(joinField(field, "escalation"), m.Escalation, 256); err != nil {
		return m, err
	}
	return m, nil
}
