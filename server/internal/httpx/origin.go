//go:build !js

package httpx

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Origins is the one list of origins trusted by CORS, WebSocket Accept and
// cross-origin SSE. Nothing else decides who is allowed.
type Origins struct {
	allowed map[string]bool
	list    []string
}

// NewOrigins returns the policy that trusts exactly the given origins
// (scheme://host[:port]); "", "null" and "*" are ignored.
func NewOrigins(origins ...string) *Origins {
	p := &Origins{allowed: map[string]bool{}}
	for _, o := range origins {
		o = strings.ToLower(strings.TrimRight(o, "/"))
		if o != "" && o != "null" && o != "*" && !p.allowed[o] {
			p.allowed[o] = true
			p.list = append(p.list, o)
		}
	}
	return p
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

// SameOrigin reports whether r carries no Origin header or one equal to the
// origin r was sent to.
func SameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}
