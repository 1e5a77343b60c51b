package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxFileSize bounds the configuration file.
const MaxFileSize = 1 << 20

// secretKeys are keys operators might be tempted to write into the YAML
// body; each gets a pointed error instead of "unknown key".
var secretKeys = map[string]bool{"token": true, "githubToken": true, "password": true, "secret": true}

// Load resolves defaults → the YAML file at path (or EVIDENCE_AUDITD_CONFIG
// when path is empty; no file at all is fine) → EVIDENCE_AUDITD_* variables
// read through getenv. Relative paths in the file are resolved against the
// file's directory, so a configuration keeps working from any working
// directory. Flags are applied by the caller, which then calls Finalize.
func Load(path string, getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	cfg := Default()
	if path == "" {
		path = getenv(EnvPrefix + "CONFIG")
	}
	if path != "" {
		if err := cfg.loadFile(path); err != nil {
			return nil, err
		}
	}
	if err := applyEnv(reflect.ValueOf(cfg).Elem(), nil, getenv); err != nil {
		return nil, err
	}
	tok, err := readToken(cfg, getenv)
	if err != nil {
		return nil, err
	}
	cfg.GitHubToken = tok
	return cfg, nil
}

func (c *Config) loadFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	defer f.Close()
	data, err := readBounded(f, MaxFileSize)
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	if len(doc.Content) == 0 { // empty file: defaults
		c.Source = path
		return nil
	}
	if err := checkKeys(doc.Content[0], reflect.TypeOf(*c), ""); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	base, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	for _, p := range c.pathFields() {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	c.Source = path
	return nil
}

// pathFields lists the fields holding file system paths.
func (c *Config) pathFields() []*string {
	return []*string{&c.Repo.Path, &c.DataDir, &c.Ledger.Path, &c.Trust.TrustedRoot, &c.Issues.Dir, &c.Issues.GitHub.TokenFile,
		&c.Anchor.Key, &c.Anchor.PublicKey, &c.Anchor.Dir, &c.Archive.Dir}
}

// checkKeys walks a mapping node against the struct type t and reports the
// first key that t does not define, by its full dotted path and line.
func checkKeys(n *yaml.Node, t reflect.Type, prefix string) error {
	if err := checkScalar(n, t, strings.TrimSuffix(prefix, ".")); err != nil {
		return err
	}
	if n.Kind != yaml.MappingNode || t.Kind() != reflect.Struct {
		return nil
	}
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag != "" && tag != "-" {
			fields[tag] = t.Field(i).Type
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := prefix + k.Value
		ft, ok := fields[k.Value]
		if !ok {
			if secretKeys[k.Value] {
				return fmt.Errorf("line %d: %s: secrets are not accepted in the configuration file; set %sGITHUB_TOKEN or issues.github.tokenFile", k.Line, key, EnvPrefix)
			}
			return fmt.Errorf("line %d: unknown key %q", k.Line, key)
		}
		if err := checkKeys(v, ft, key+"."); err != nil {
			return err
		}
	}
	return nil
}

// checkScalar reports a value of the wrong shape by its key, which the YAML
// decoder alone would only report by line.
func checkScalar(n *yaml.Node, t reflect.Type, key string) error {
	if key == "" || n.Tag == "!!null" {
		return nil
	}
	if reflect.PointerTo(t).Implements(reflect.TypeOf((*interface{ UnmarshalText([]byte) error })(nil)).Elem()) {
		if n.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: %s: want a single value", n.Line, key)
		}
		v := reflect.New(t).Interface().(interface{ UnmarshalText([]byte) error })
		if err := v.UnmarshalText([]byte(n.Value)); err != nil {
			return fmt.Errorf("line %d: %s: %w", n.Line, key, err)
		}
		return nil
	}
	want := ""
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			want = "a mapping"
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			want = "a list"
		}
	case reflect.Int, reflect.Int64:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			want = "an integer"
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			want = "true or false"
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			want = "a string"
		}
	}
	if want != "" {
		return fmt.Errorf("line %d: %s: want %s, got %q", n.Line, key, want, n.Value)
	}
	return nil
}

// EnvVar is one EVIDENCE_AUDITD_* variable and the key it overrides.
type EnvVar struct {
	Name string
	Key  string
}

// EnvVars lists every variable that overrides a configuration key, plus the
// two that are not keys (CONFIG and GITHUB_TOKEN), for --help and the README.
func EnvVars() []EnvVar {
	var out []EnvVar
	walkLeaves(reflect.TypeOf(Config{}), nil, func(path []string, _ reflect.Type) {
		out = append(out, EnvVar{Name: envName(path), Key: strings.Join(path, ".")})
	})
	out = append(out,
		EnvVar{Name: EnvPrefix + "CONFIG", Key: "(path of the configuration file)"},
		EnvVar{Name: EnvPrefix + "GITHUB_TOKEN", Key: "(GitHub token; GITHUB_TOKEN also works)"},
	)
	return out
}

func walkLeaves(t reflect.Type, path []string, fn func([]string, reflect.Type)) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		p := append(append([]string(nil), path...), tag)
		if f.Type.Kind() == reflect.Struct {
			walkLeaves(f.Type, p, fn)
			continue
		}
		fn(p, f.Type)
	}
}

// envName maps a key path to its variable: repo.evidenceDir →
// EVIDENCE_AUDITD_REPO_EVIDENCE_DIR, registry.plainHTTP → …_REGISTRY_PLAIN_HTTP.
func envName(path []string) string {
	var b strings.Builder
	b.WriteString(EnvPrefix)
	for i, seg := range path {
		if i > 0 {
			b.WriteByte('_')
		}
		for j, r := range seg {
			if j > 0 && r >= 'A' && r <= 'Z' {
				prev := rune(seg[j-1])
				if (prev >= 'a' && prev <= 'z') || (prev >= '0' && prev <= '9') {
					b.WriteByte('_')
				}
			}
			b.WriteString(strings.ToUpper(string(r)))
		}
	}
	return b.String()
}

func applyEnv(v reflect.Value, path []string, getenv func(string) string) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		p := append(append([]string(nil), path...), tag)
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct {
			if err := applyEnv(fv, p, getenv); err != nil {
				return err
			}
			continue
		}
		name := envName(p)
		raw, ok := lookup(getenv, name)
		if !ok {
			continue
		}
		if err := setFromString(fv, raw); err != nil {
			return fmt.Errorf("%s (%s): %w", name, strings.Join(p, "."), err)
		}
	}
	return nil
}

// lookup treats an empty variable as unset, the convention of most daemons.
func lookup(getenv func(string) string, name string) (string, bool) {
	s := getenv(name)
	return s, s != ""
}

func setFromString(fv reflect.Value, raw string) error {
	if u, ok := fv.Addr().Interface().(interface{ UnmarshalText([]byte) error }); ok {
		return u.UnmarshalText([]byte(raw))
	}
	switch fv.Kind() {
	case reflect.String:
		fv.SetString(raw)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
		if err != nil {
			return fmt.Errorf("want an integer, got %q", raw)
		}
		fv.SetInt(n)
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(raw))
		if err != nil {
			return fmt.Errorf("want true or false, got %q", raw)
		}
		fv.SetBool(b)
	case reflect.Slice:
		var items []string
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
		fv.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("unsupported kind %s", fv.Kind())
	}
	return nil
}

func readToken(c *Config, getenv func(string) string) (Secret, error) {
	for _, name := range []string{EnvPrefix + "GITHUB_TOKEN", "GITHUB_TOKEN"} {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return Secret(v), nil
		}
	}
	if c.Issues.GitHub.TokenFile == "" {
		return "", nil
	}
	f, err := os.Open(c.Issues.GitHub.TokenFile)
	if err != nil {
		// The path is configuration, not a secret: safe to name.
		return "", fmt.Errorf("issues.github.tokenFile: %w", err)
	}
	defer f.Close()
	data, err := readBounded(f, 64<<10)
	if err != nil {
		return "", fmt.Errorf("issues.github.tokenFile: %w", err)
	}
	return Secret(strings.TrimSpace(string(data))), nil
}

func readBounded(f *os.File, limit int64) ([]byte, error) {
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, errors.New("file too large")
	}
	return buf.Bytes(), nil
}
