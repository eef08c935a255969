//go:build !js

package main

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// originPolicy is the one list of origins trusted by CORS, WebSocket
// Accept and cross-origin SSE: the page's origin, the second origin and
// the -allow-origin flags. Nothing else decides who is allowed.
type originPolicy struct {
	allowed map[string]bool
	list    []string
}

func newOriginPolicy(cfg config) *originPolicy {
	p := &originPolicy{allowed: map[string]bool{}}
	for _, o := range append([]string{cfg.PageOrigin, cfg.SecondOrigin}, cfg.AllowOrigins...) {
		o = strings.ToLower(strings.TrimRight(o, "/"))
		if o != "" && o != "null" && o != "*" && !p.allowed[o] {
			p.allowed[o] = true
			p.list = append(p.list, o)
		}
	}
	return p
}

// parseOrigin checks an -allow-origin value: scheme "http" or "https",
// a host, and nothing else ("*", "null", paths, queries and spaces are
// refused, so a typo cannot open the server or break the CSP). A trailing
// "/" is dropped; the result is lower case.
func parseOrigin(v string) (string, error) {
	o := strings.ToLower(strings.TrimRight(v, "/"))
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil || strings.ContainsAny(o, " ;,*") {
		return "", errors.New("origin " + strconv.Quote(v) + ": want scheme://host[:port], e.g. http://127.0.0.1:8081")
	}
	return o, nil
}

// allows reports whether origin (an Origin header value) is trusted.
// "null" (sandboxed frames, file: pages) and "*" never are.
func (p *originPolicy) allows(origin string) bool { return p.allowed[origin] }

// wsPatterns returns the allowed origins as patterns for
// websocket.AcceptOptions.OriginPatterns. Each is a full origin
// ("http://host:port"), so the scheme must match too; path.Match
// metacharacters are quoted, or "[::1]:8080" would read as a class.
func (p *originPolicy) wsPatterns() []string {
	var out []string
	for _, o := range p.list {
		if u, err := url.Parse(o); err == nil && u.Host != "" {
			out = append(out, matchQuoter.Replace(u.Scheme+"://"+u.Host))
		}
	}
	return out
}

var matchQuoter = strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`)

// sameOrigin reports whether r carries no Origin header or one equal to the
// origin r was sent to.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}
