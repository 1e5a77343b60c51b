package config

import "strings"

// reservedEnvPrefix names variables of the project's own test suites (the
// e2e scripts export them); they are not configuration and not warned about.
const reservedEnvPrefix = EnvPrefix + "E2E_"

// UnknownEnv returns one warning per EVIDENCE_AUDITD_* variable in environ
// ("NAME=value" entries, as os.Environ gives them) that no configuration
// key reads, suggesting the closest known name when one is near: a mistyped
// variable (…_REGISTRY_TIMEUOT) would otherwise be ignored in silence. The
// values are never included — a variable may hold a secret.
func UnknownEnv(environ []string) []string {
	known := map[string]bool{}
	var names []string
	for _, v := range EnvVars() {
		known[v.Name] = true
		names = append(names, v.Name)
	}
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, EnvPrefix) || known[name] || strings.HasPrefix(name, reservedEnvPrefix) {
			continue
		}
		w := "unknown environment variable " + name + " is ignored"
		if near := closest(name, names); near != "" {
			w += " (did you mean " + near + "?)"
		}
		out = append(out, w)
	}
	return out
}

// closest is the name within a small edit distance of s, if any.
func closest(s string, names []string) string {
	best, bestD := "", 4 // more than three edits is not a typo
	for _, n := range names {
		if d := editDistance(s, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the Damerau–Levenshtein distance (adjacent swaps count
// as one edit, the commonest typo) between two ASCII names.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
