package report

import (
	"net/url"
	"path/filepath"
	"strings"
)

// Option adjusts how Render, Markdown and HTML render a snapshot. The
// snapshot itself is never changed.
type Option func(*options)

type options struct {
	linkBase string // directory the document is read from; "" unknown
}

// LinksFrom says the document will be read from directory dir, so that
// links to the file sink's issue files are relative to it and keep working
// when the report and the issue directory move together. Without it such
// links are file: URLs of the recorded (absolute) paths.
func LinksFrom(dir string) Option {
	return func(o *options) { o.linkBase = dir }
}

func newOptions(opts []Option) options {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// issueHref is the link of an issue: the tracker's https URL as recorded,
// or for the file sink a reference to its file; "" when there is nothing
// to link to. Path segments are percent-encoded, so the result can be
// placed in an href or a Markdown link as is.
func (o options) issueHref(is *Issue) string {
	if is == nil || is.URL == "" {
		return ""
	}
	if strings.HasPrefix(is.URL, "https://") {
		return is.URL
	}
	if strings.Contains(is.URL, "://") {
		return "" // no other scheme is ever linked
	}
	p := is.URL
	if filepath.IsAbs(p) && o.linkBase != "" {
		if rel, err := filepath.Rel(o.linkBase, p); err == nil {
			return escapePath(filepath.ToSlash(rel))
		}
	}
	if filepath.IsAbs(p) {
		return "file://" + escapePath(filepath.ToSlash(p))
	}
	return escapePath(filepath.ToSlash(p))
}

func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	out := strings.Join(segs, "/")
	if strings.Contains(segs[0], ":") {
		out = "./" + out // never read as a scheme
	}
	return out
}
