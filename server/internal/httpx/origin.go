//go:build !js

package httpx

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Origins is the one trust policy of a server: the origins whose pages are
// trusted by CORS, WebSocket Accept and cross-origin streams (Origin
// header), and the host names the server answers to (Host header).
// Nothing else decides who is allowed.
//
// The request's own Host is never a reason to trust its Origin: after DNS
// rebinding a hostile page sends Host and Origin of its own name, which
// match each other. Instead a request whose Host is not one of the
// server's names is refused (CheckHost), and an Origin is trusted only if
// it is configured: the server's own page origin must be listed too.
type Origins struct {
	allowed map[string]bool // configured origins
	list    []string        // the same, in order
	exact   map[string]bool // own names with a port ("host:port")
	anyPort map[string]bool // own names without a port ("host")
}

// NewOrigins returns the policy that trusts exactly the given origins
// (scheme://host[:port]); "", "null" and "*" are ignored. The hosts of the
// origins are the server's own names; AddHosts adds more.
func NewOrigins(origins ...string) *Origins {
	p := &Origins{allowed: map[string]bool{}, exact: map[string]bool{}, anyPort: map[string]bool{}}
	for _, o := range origins {
		o = strings.ToLower(strings.TrimRight(o, "/"))
		if o != "" && o != "null" && o != "*" && !p.allowed[o] {
			p.allowed[o] = true
			p.list = append(p.list, o)
			if u, err := url.Parse(o); err == nil && u.Host != "" {
				p.addHost(u.Host, defaultPort(u.Scheme))
			}
		}
	}
	return p
}

// AddHosts adds own host names: "host:port" (the port must match) or
// "host" (any port), e.g. the listener's address, or the names a reverse
// proxy forwards. No origin is trusted for it: list the page origins in
// NewOrigins. It returns p.
func (p *Origins) AddHosts(names ...string) *Origins {
	for _, n := range names {
		p.addHost(n, "")
	}
	return p
}

func (p *Origins) addHost(name, defPort string) {
	name = strings.ToLower(strings.TrimSpace(name))
	if name == "" {
		return
	}
	host, port, err := net.SplitHostPort(name)
	if err != nil { // no port
		host = strings.Trim(name, "[]")
		if defPort == "" {
			p.anyPort[host] = true
			return
		}
		port = defPort
	}
	p.exact[net.JoinHostPort(host, port)] = true
}

func bracket(host string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]"
	}
	return host
}

func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}

// OwnHost reports whether host (a Host header: "name" or "name:port") is
// one of the server's names. An empty Host (HTTP/1.0) passes: a browser
// always sends one.
func (p *Origins) OwnHost(host string) bool {
	host = strings.ToLower(host)
	if host == "" {
		return true
	}
	name, port, err := net.SplitHostPort(host)
	if err != nil { // no port: the scheme's default
		name = strings.Trim(host, "[]")
		return p.exact[net.JoinHostPort(name, "80")] || p.exact[net.JoinHostPort(name, "443")] || p.anyPort[name]
	}
	return p.exact[net.JoinHostPort(name, port)] || p.anyPort[name]
}

// CheckHost answers 421 Misdirected Request when r's Host is not one of the
// server's names (the defence against DNS rebinding) and reports false;
// otherwise it reports true.
func (p *Origins) CheckHost(w http.ResponseWriter, r *http.Request) bool {
	if p.OwnHost(r.Host) {
		return true
	}
	w.Header().Set("Connection", "close")
	WriteError(w, http.StatusMisdirectedRequest, "host "+strconv.Quote(r.Host)+" is not a name of this server")
	return false
}

// Trusted reports whether r carries no Origin header (not a cross-site
// browser request) or a trusted one.
func (p *Origins) Trusted(r *http.Request) bool {
	o := r.Header.Get("Origin")
	return o == "" || p.Allows(o)
}

// ParseOrigin checks an origin given by an operator: scheme "http" or
// "https", a host, and nothing else ("*", "null", paths, queries and spaces
// are refused, so a typo cannot open the server or break the CSP). A
// trailing "/" is dropped; the result is lower case.
func ParseOrigin(v string) (string, error) {
	o := strings.ToLower(strings.TrimRight(v, "/"))
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil || strings.ContainsAny(o, " ;,*") {
		return "", errors.New("origin " + strconv.Quote(v) + ": want scheme://host[:port], e.g. http://127.0.0.1:8081")
	}
	return o, nil
}

// Allows reports whether origin (an Origin header value) is trusted.
// "null" (sandboxed frames, file: pages) and "*" never are.
func (p *Origins) Allows(origin string) bool { return p.allowed[origin] }

// List returns the trusted origins.
func (p *Origins) List() []string { return append([]string(nil), p.list...) }

// Hosts returns the own host names, for a policy of another component
// (realtime.Config.Hosts).
func (p *Origins) Hosts() []string {
	var out []string
	for h := range p.exact {
		out = append(out, h)
	}
	for h := range p.anyPort {
		out = append(out, bracket(h))
	}
	sort.Strings(out)
	return out
}

// WSPatterns returns the allowed origins as patterns for
// websocket.AcceptOptions.OriginPatterns. Each is a full origin
// ("http://host:port"), so the scheme must match too; path.Match
// metacharacters are quoted, or "[::1]:8080" would read as a class.
func (p *Origins) WSPatterns() []string {
	var out []string
	for _, o := range p.list {
		if u, err := url.Parse(o); err == nil && u.Host != "" {
			out = append(out, matchQuoter.Replace(u.Scheme+"://"+u.Host))
		}
	}
	return out
}

var matchQuoter = strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`)
