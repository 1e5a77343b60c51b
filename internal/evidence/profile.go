package evidence

import (
	"fmt"
	"regexp"
	"strings"
)

var profileRE = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9-]{0,62})=([A-Za-z0-9][A-Za-z0-9-]{0,62})$`)

// ParseProfile splits a recipe profile such as `gpuStack=bundle-installer`
// into its name and value. Both must be alphanumeric words joined by
// hyphens (they become part of a recipe name), at most 63 bytes each.
func ParseProfile(profile string) (name, value string, err error) {
	m := profileRE.FindStringSubmatch(profile)
	if m == nil {
		return "", "", fmt.Errorf("profile %q is not name=value", profile)
	}
	return m[1], m[2], nil
}

// profileSuffix is the recipe-name suffix a profile implies:
// gpuStack=bundle-installer → "-gpustack-bundle-installer".
func profileSuffix(profile string) (string, error) {
	name, value, err := ParseProfile(profile)
	if err != nil {
		return "", err
	}
	return "-" + strings.ToLower(name) + "-" + strings.ToLower(value), nil
}

// checkProfile reports whether recipe is coherent with profile (SPEC §2.1:
// a profiled recipe's name ends in -<name>-<value>, lowercased). An empty
// profile is always coherent.
func checkProfile(recipe, profile string) error {
	if profile == "" {
		return nil
	}
	suffix, err := profileSuffix(profile)
	if err != nil {
		return err
	}
	if !strings.HasSuffix(recipe, suffix) || len(recipe) == len(suffix) {
		return fmt.Errorf("recipe %q does not end in %q as profile %q requires", recipe, suffix, profile)
	}
	return nil
}

// BaseRecipe returns the recipe a profiled recipe derives from: recipe with
// the profile's suffix removed, whose overlay carries the maintainers
// (SPEC §2.3). It returns recipe unchanged when profile is empty, malformed
// or not coherent with recipe.
func BaseRecipe(recipe, profile string) string {
	if checkProfile(recipe, profile) != nil || profile == "" {
		return recipe
	}
	suffix, _ := profileSuffix(profile)
	return strings.TrimSuffix(recipe, suffix)
}
