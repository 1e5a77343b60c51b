package reporttest

import (
	"encoding/json"
	"fmt"
	"html"
	"regexp"
	"strconv"
	"strings"
)

// jsonSummary is the JSON report's summary (SPEC §5).
type jsonSummary struct {
	Pointers             int `json:"pointers"`
	Verified             int `json:"verified"`
	VerifiedWithFailures int `json:"verifiedWithFailures"`
	Archived             int `json:"archived"`
	RekorOnly            int `json:"rekorOnly"`
	Invalid              int `json:"invalid"`
	NoVerdict            int `json:"noVerdict"`
	RecipesNeedingRecert int `json:"recipesNeedingRecert"`
}

// rendering is what one human format shows: the summary's figures, each
// section's heading and row count (by sectionTitles key), the by-verdict
// line and the action sentence; issue says why it could not be read.
type rendering struct {
	name            string
	summary         map[string]int
	headings, rows  map[string]int
	verdicts, issue string
	action          string
}

// section names as both human formats title them, by key.
var sectionTitles = map[string]string{
	"recert":     "Recipes needing re-certification",
	"lost":       "Lost bundles",
	"invalid":    "Invalid evidence",
	"no-verdict": "No verdict — retried next run",
	"healthy":    "Healthy",
}

// CheckCounts reconciles every number a reader can compare in the Markdown
// and HTML renderings of one snapshot with each other and with the JSON
// report's per-verdict summary: each section's heading equals the rows it
// lists and the summary's figure for it; the four pointer sections add up
// to the pointers; the by-verdict line equals the JSON summary and splits
// the invalid verdicts between Invalid evidence and Lost bundles exactly;
// the action sentence repeats the section counts. It returns one line per
// disagreement.
func CheckCounts(markdown, html, jsonDoc []byte) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	var doc struct {
		Summary jsonSummary `json:"summary"`
	}
	if err := json.Unmarshal(jsonDoc, &doc); err != nil {
		return []string{"JSON report: " + err.Error()}
	}
	js := doc.Summary

	for _, f := range []rendering{
		markdownCounts(string(markdown)),
		htmlCounts(string(html)),
	} {
		if f.issue != "" {
			bad("%s: %s", f.name, f.issue)
			continue
		}
		for key, title := range sectionTitles {
			h, ok := f.headings[key]
			if !ok {
				bad("%s: no %q heading", f.name, title)
				continue
			}
			if f.rows[key] != h {
				bad("%s: %q says %d, lists %d", f.name, title, h, f.rows[key])
			}
			if f.summary[key] != h {
				bad("%s: the summary says %d for %q, the section %d", f.name, f.summary[key], title, h)
			}
		}
		if sum := f.rows["healthy"] + f.rows["lost"] + f.rows["invalid"] + f.rows["no-verdict"]; sum != js.Pointers || f.summary["pointers"] != js.Pointers {
			bad("%s: sections add up to %d, summary says %d pointers, JSON %d", f.name, sum, f.summary["pointers"], js.Pointers)
		}
		if f.summary["recert"] != js.RecipesNeedingRecert {
			bad("%s: %d recipes to re-certify, JSON %d", f.name, f.summary["recert"], js.RecipesNeedingRecert)
		}
		v, err := parseByVerdict(f.verdicts)
		if err != nil {
			bad("%s: %v", f.name, err)
			continue
		}
		want := []int{js.Verified, js.VerifiedWithFailures, js.Archived, js.RekorOnly, js.Invalid, js.NoVerdict}
		for i, n := range []int{v.verified, v.withFailures, v.archived, v.rekorOnly, v.invalid, v.noVerdict} {
			if n != want[i] {
				bad("%s: by verdict %q, JSON summary %+v", f.name, f.verdicts, js)
				break
			}
		}
		if v.invalidEvidence != f.rows["invalid"] || v.invalidEvidence+v.invalidLost != v.invalid {
			bad("%s: invalid verdicts %d = %d invalid evidence + %d lost, but the section lists %d", f.name, v.invalid, v.invalidEvidence, v.invalidLost, f.rows["invalid"])
		}
		if v.archived+v.rekorOnly+v.invalidLost != f.rows["lost"] {
			bad("%s: %d archived + %d rekor-only + %d invalid lost ≠ %d lost bundles", f.name, v.archived, v.rekorOnly, v.invalidLost, f.rows["lost"])
		}
		if v.verified+v.withFailures != f.rows["healthy"] || v.noVerdict != f.rows["no-verdict"] {
			bad("%s: healthy/no-verdict sections %d/%d disagree with %q", f.name, f.rows["healthy"], f.rows["no-verdict"], f.verdicts)
		}
		for key, re := range actionParts {
			m := re.FindStringSubmatch(f.action)
			n := 0
			if m != nil {
				n, _ = strconv.Atoi(m[1])
			}
			if n != f.rows[key] {
				bad("%s: the action sentence %q says %d for %q, the section lists %d", f.name, f.action, n, sectionTitles[key], f.rows[key])
			}
		}
	}
	return problems
}

var actionParts = map[string]*regexp.Regexp{
	"recert":  regexp.MustCompile(`(\d+) recipes? to re-certify`),
	"lost":    regexp.MustCompile(`(\d+) lost bundles?`),
	"invalid": regexp.MustCompile(`(\d+) invalid pointers?`),
}

type verdictCounts struct {
	verified, withFailures, archived, rekorOnly, invalid, invalidEvidence, invalidLost, noVerdict int
}

var byVerdictRE = regexp.MustCompile(`^(\d+) verified, (\d+) verified-with-failures, (\d+) archived, (\d+) rekor-only, (\d+) invalid(?: \((\d+) invalid evidence \+ (\d+) lost\))?, (\d+) no-verdict$`)

func parseByVerdict(s string) (verdictCounts, error) {
	m := byVerdictRE.FindStringSubmatch(s)
	if m == nil {
		return verdictCounts{}, fmt.Errorf("by-verdict line %q does not parse", s)
	}
	n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
	v := verdictCounts{verified: n(1), withFailures: n(2), archived: n(3), rekorOnly: n(4), invalid: n(5), noVerdict: n(8)}
	if m[6] == "" {
		v.invalidEvidence = v.invalid
	} else {
		v.invalidEvidence, v.invalidLost = n(6), n(7)
	}
	return v, nil
}

var (
	mdHeadingRE = regexp.MustCompile(`(?m)^## (.+) \((\d+)\)$`)
	mdVerdictRE = regexp.MustCompile(`(?m)^By verdict: (.+?)\. Ages `)
	mdActionRE  = regexp.MustCompile(`(?m)^\*\*(?:Needs action:\*\* .*|Nothing needs action\.\*\*.*)$`)
)

func markdownCounts(md string) (out rendering) {
	out.name, out.summary, out.headings, out.rows = "Markdown", map[string]int{}, map[string]int{}, map[string]int{}
	i := strings.Index(md, "| Pointers | Healthy | Lost bundles | Invalid evidence | No verdict | Recipes to re-certify |")
	if i < 0 {
		out.issue = "no summary table"
		return out
	}
	lines := strings.SplitN(md[i:], "\n", 4)
	if len(lines) < 3 {
		out.issue = "summary table cut short"
		return out
	}
	cells := strings.Split(strings.Trim(lines[2], "| "), "|")
	for j, key := range []string{"pointers", "healthy", "lost", "invalid", "no-verdict", "recert"} {
		if j < len(cells) {
			out.summary[key], _ = strconv.Atoi(strings.TrimSpace(cells[j]))
		}
	}
	titles := map[string]string{}
	for k, t := range sectionTitles {
		titles[t] = k
	}
	locs := mdHeadingRE.FindAllStringSubmatchIndex(md, -1)
	for j, loc := range locs {
		key, ok := titles[md[loc[2]:loc[3]]]
		if !ok {
			continue
		}
		out.headings[key], _ = strconv.Atoi(md[loc[4]:loc[5]])
		end := len(md)
		if j+1 < len(locs) {
			end = locs[j+1][0]
		}
		rows := 0
		for _, l := range strings.Split(md[loc[1]:end], "\n") {
			if strings.HasPrefix(l, "| `") {
				rows++
			}
		}
		out.rows[key] = rows
	}
	if m := mdVerdictRE.FindStringSubmatch(md); m != nil {
		out.verdicts = m[1]
	}
	out.action = mdActionRE.FindString(md)
	return out
}

var (
	htmlCardRE    = regexp.MustCompile(`<div class="v">(\d+)</div><div class="l">([^<]+)</div>`)
	htmlSectionRE = regexp.MustCompile(`<section id="([a-z-]+)">\n<h2>[^<]*<span class="n">\((\d+)\)</span></h2>`)
	htmlVerdictRE = regexp.MustCompile(`<p class="makeup" id="by-verdict">By verdict: (.+?)\. Ages `)
	htmlActionRE  = regexp.MustCompile(`<p class="action[^"]*">([^<]*)</p>`)
)

func htmlCounts(page string) (out rendering) {
	out.name, out.summary, out.headings, out.rows = "HTML", map[string]int{}, map[string]int{}, map[string]int{}
	cardKeys := map[string]string{"pointers": "pointers", "healthy": "healthy", "lost bundles": "lost",
		"invalid evidence": "invalid", "no verdict": "no-verdict", "recipes to re-certify": "recert"}
	for _, m := range htmlCardRE.FindAllStringSubmatch(page, -1) {
		if key, ok := cardKeys[m[2]]; ok {
			out.summary[key], _ = strconv.Atoi(m[1])
		}
	}
	locs := htmlSectionRE.FindAllStringSubmatchIndex(page, -1)
	for _, loc := range locs {
		key := page[loc[2]:loc[3]]
		if _, ok := sectionTitles[key]; !ok {
			continue
		}
		out.headings[key], _ = strconv.Atoi(page[loc[4]:loc[5]])
		body := page[loc[1]:]
		if end := strings.Index(body, "</section>"); end >= 0 {
			body = body[:end]
		}
		if key == "recert" {
			out.rows[key] = strings.Count(body, `<tr><td class="c-recipe">`)
		} else {
			out.rows[key] = strings.Count(body, `<details class="ptr">`)
		}
	}
	if m := htmlVerdictRE.FindStringSubmatch(page); m != nil {
		out.verdicts = html.UnescapeString(m[1])
	}
	if m := htmlActionRE.FindStringSubmatch(page); m != nil {
		out.action = html.UnescapeString(m[1])
	}
	return out
}
