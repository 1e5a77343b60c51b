package registry

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"path"
	"strings"
	"sync"
	"syscall"
)

var (
	cgnat     = netip.MustParsePrefix("100.64.0.0/10") // RFC 6598 shared address space
	thisNet   = netip.MustParsePrefix("0.0.0.0/8")
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// privateAddr reports whether a is an address a pointer must not make the
// auditor reach: loopback, link-local (including cloud metadata at
// 169.254.169.254), RFC 1918 private, IPv6 unique-local, CGNAT,
// unspecified, multicast, and IPv4 private addresses embedded in IPv6
// (mapped, NAT64, 6to4).
func privateAddr(a netip.Addr) bool {
	a = a.Unmap()
	if a.Is6() {
		b := a.As16()
		switch {
		case nat64.Contains(a):
			return privateAddr(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
		case sixToFour.Contains(a):
			if privateAddr(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})) {
				return true
			}
		}
	}
	return a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() ||
		a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() || a.IsMulticast() ||
		a.IsUnspecified() || cgnat.Contains(a) || thisNet.Contains(a)
}

// dialControl refuses connections to private addresses. It runs after name
// resolution, on the address actually dialed, so a name that resolves (or
// re-resolves, DNS rebinding) to a private address is refused too.
func dialControl(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &policyError{msg: fmt.Sprintf("dial %s: unparsable address", address)}
	}
	if privateAddr(ap.Addr()) {
		return &policyError{msg: fmt.Sprintf("dial %s: private network address refused (registry.allowPrivateNetworks is off)", address)}
	}
	return nil
}

// newNetTransport is the default network transport: no proxy (a proxy would
// resolve names where the private-network check cannot see them), the
// private-network check at dial time unless allowed.
func newNetTransport(allowPrivate bool) *http.Transport {
	d := &net.Dialer{Timeout: DefaultTimeout, KeepAlive: DefaultTimeout}
	if !allowPrivate {
		d.Control = dialControl
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DialContext = d.DialContext
	t.MaxIdleConnsPerHost = 32
	return t
}

// hostAllowed applies registry.allow to a registry host ("host" or
// "host:port", lowercase).
func (o *options) hostAllowed(host string) bool {
	if len(o.allow) == 0 {
		return true
	}
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.Trim(name, "[]")
	for _, g := range o.allow {
		subject := name
		if strings.Contains(g, ":") {
			subject = host
		}
		if ok, _ := path.Match(g, subject); ok {
			return true
		}
	}
	return false
}

// literalPrivate reports whether host (host or host:port) is a literal IP
// address in a private range.
func literalPrivate(host string) bool {
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	a, err := netip.ParseAddr(strings.Trim(name, "[]"))
	return err == nil && privateAddr(a)
}

// guard enforces the scheme rule and the literal-IP check on every request,
// redirects and token exchanges included, and the per-host concurrency cap.
type guard struct {
	o     *options
	inner http.RoundTripper

	mu   sync.Mutex
	sems map[string]chan struct{}
}

func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	host := strings.ToLower(req.URL.Host)
	plain := g.o.plainHTTP[host]
	switch {
	case req.URL.Scheme == "http" && !plain:
		return nil, &schemeError{msg: fmt.Sprintf("plain http to %s refused (not in registry.plainHTTP)", host)}
	case req.URL.Scheme == "https" && plain:
		return nil, &schemeError{msg: fmt.Sprintf("https to %s skipped: host is configured for plain http", host)}
	case req.URL.Scheme != "http" && req.URL.Scheme != "https":
		return nil, &schemeError{msg: fmt.Sprintf("scheme %q refused", req.URL.Scheme)}
	}
	if !g.o.allowPrivate && literalPrivate(host) {
		return nil, &policyError{msg: fmt.Sprintf("%s is a private network address (registry.allowPrivateNetworks is off)", host)}
	}
	release, err := g.acquire(req.Context(), host)
	if err != nil {
		return nil, err
	}
	resp, err := g.inner.RoundTrip(req)
	if err != nil {
		if release != nil {
			release()
		}
		return nil, err
	}
	if release != nil {
		resp.Body = &releasingBody{ReadCloser: resp.Body, release: release}
	}
	return resp, nil
}

func (g *guard) acquire(ctx context.Context, host string) (func(), error) {
	if g.o.perHost <= 0 {
		return nil, nil
	}
	g.mu.Lock()
	sem, ok := g.sems[host]
	if !ok {
		sem = make(chan struct{}, g.o.perHost)
		g.sems[host] = sem
	}
	g.mu.Unlock()
	select {
	case sem <- struct{}{}:
		var once sync.Once
		return func() { once.Do(func() { <-sem }) }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type releasingBody struct {
	io.ReadCloser
	release func()
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.release()
	return err
}
