//go:build !js

package httpx

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// CORSOptions tunes one endpoint's CORS answer. The zero value allows
// simple GET/HEAD/POST requests from trusted origins without credentials.
type CORSOptions struct {
	// Methods lists the methods a preflight allows. Defaults to
	// GET, HEAD, POST.
	Methods []string
	// Headers lists request headers a preflight allows. Defaults to
	// Content-Type.
	Headers []string
	// Expose lists response headers the page may read besides the
	// CORS-safelisted ones. Defaults to none.
	Expose []string
	// Credentials sends Access-Control-Allow-Credentials: true, so cookies
	// travel. The origin is always echoed, never "*". Defaults to false.
	Credentials bool
	// MaxAge is how long a browser may cache the preflight. Defaults to
	// 10 minutes.
	MaxAge time.Duration
	// Deny answers as if no origin were trusted: the browser blocks the
	// response and the page sees status 0. For demos and tests.
	Deny bool
	// Refuse answers a request from an untrusted origin 403 at once,
	// instead of serving an answer the browser would hide: for endpoints
	// that hold a stream slot. Defaults to false.
	Refuse bool
}

// CORS applies the origin policy to r. It always sets Vary: Origin. For a
// trusted Origin it sets Access-Control-Allow-Origin to that origin (never
// "*"), plus Allow-Credentials and Expose-Headers per opt. It answers a
// preflight (OPTIONS with Access-Control-Request-Method) itself and then
// reports handled true: the caller must return. A preflight asking for a
// method or header opt does not allow gets 403 naming it. An untrusted origin gets
// no CORS headers at all, so the browser refuses the response; a preflight
// from it is answered 403 with a JSON error.
//
// A Go 1.22 pattern like "GET /x" does not match OPTIONS: register
// "OPTIONS /x" to the same handler (register both) so the
// preflight reaches cors. A method-less pattern would clash with "GET /".
func CORS(w http.ResponseWriter, r *http.Request, p *Origins, opt CORSOptions) (handled bool) {
	h := w.Header()
	h.Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	if preflight {
		h.Add("Vary", "Access-Control-Request-Method")
		h.Add("Vary", "Access-Control-Request-Headers")
	}
	allowed := origin != "" && !opt.Deny && p.Allows(origin)
	if !allowed {
		if preflight || opt.Refuse && origin != "" {
			WriteError(w, http.StatusForbidden, "origin not allowed by CORS")
			return true
		}
		return false
	}
	h.Set("Access-Control-Allow-Origin", origin)
	if opt.Credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if len(opt.Expose) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(opt.Expose, ", "))
	}
	if !preflight {
		return false
	}
	methods := opt.Methods
	if len(methods) == 0 {
		methods = []string{"GET", "HEAD", "POST"}
	}
	headers := opt.Headers
	if len(headers) == 0 {
		headers = []string{"Content-Type"}
	}
	maxAge := opt.MaxAge
	if maxAge <= 0 {
		maxAge = 10 * time.Minute
	}
	if m := r.Header.Get("Access-Control-Request-Method"); !containsFold(methods, m) && !safelistedMethod(m) {
		WriteError(w, http.StatusForbidden, "CORS preflight: method "+m+" not allowed (allowed: "+strings.Join(methods, ", ")+")")
		return true
	}
	for _, name := range strings.Split(r.Header.Get("Access-Control-Request-Headers"), ",") {
		if name = strings.TrimSpace(name); name != "" && !containsFold(headers, name) {
			WriteError(w, http.StatusForbidden, "CORS preflight: header "+name+" not allowed (allowed: "+strings.Join(headers, ", ")+")")
			return true
		}
	}
	h.Set("Access-Control-Allow-Methods", strings.Join(methods, ", "))
	h.Set("Access-Control-Allow-Headers", strings.Join(headers, ", "))
	h.Set("Access-Control-Max-Age", strconv.Itoa(int(maxAge/time.Second)))
	w.WriteHeader(http.StatusNoContent)
	return true
}

// safelistedMethod reports whether a browser sends m cross-origin without
// the preflight granting it (GET, HEAD, POST).
func safelistedMethod(m string) bool { return m == "GET" || m == "HEAD" || m == "POST" }

// containsFold reports whether list holds s, ignoring ASCII case.
func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
