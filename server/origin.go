//go:build !js

package main

import (
	"net/http"
	"net/url"
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
		if o != "" && !p.allowed[o] {
			p.allowed[o] = true
			p.list = append(p.list, o)
		}
	}
	return p
}

// allows reports whether origin (an Origin header value) is trusted.
func (p *originPolicy) allows(origin string) bool { return p.allowed[origin] }

// wsPatterns returns the allowed origins as host patterns for
// websocket.AcceptOptions.OriginPatterns.
func (p *originPolicy) wsPatterns() []string {
	var out []string
	for _, o := range p.list {
		if u, err := url.Parse(o); err == nil && u.Host != "" {
			out = append(out, u.Host)
		}
	}
	return out
}

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
