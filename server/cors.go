//go:build !js

package main

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// corsOptions tunes one endpoint's CORS answer. The zero value allows
// simple GET/HEAD/POST requests from trusted origins without credentials.
type corsOptions struct {
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

// cors applies the origin policy to r. It always sets Vary: Origin. For a
// trusted Origin it sets Access-Control-Allow-Origin to that origin (never
// "*"), plus Allow-Credentials and Expose-Headers per opt. It answers a
// preflight (OPTIONS with Access-Control-Request-Method) itself and then
// reports handled true: the caller must return. A preflight asking for a
// method or header opt does not allow gets 403 naming it. An untrusted origin gets
// no CORS headers at all, so the browser refuses the response; a preflight
// from it is answered 403 with a JSON error.
//
// A Go 1.22 pattern like "GET /x" does not match OPTIONS: register
// "OPTIONS /x" to the same handler (handleMethods does both) so the
// preflight reaches cors. A method-less pattern would clash with "GET /".
func (s *server) cors(w http.ResponseWriter, r *http.Request, opt corsOptions) (handled bool) {
	h := w.Header()
	h.Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	if preflight {
		h.Add("Vary", "Access-Control-Request-Method")
		h.Add("Vary", "Access-Control-Request-Headers")
	}
	allowed := origin != "" && !opt.Deny && s.origins.allows(origin)
	if !allowed {
		if preflight || opt.Refuse && !sameOrigin(r) {
			writeError(w, http.StatusForbidden, "origin not allowed by CORS")
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
		writeError(w, http.StatusForbidden, "CORS preflight: method "+m+" not allowed (allowed: "+strings.Join(methods, ", ")+")")
		return true
	}
	for _, name := range strings.Split(r.Header.Get("Access-Control-Request-Headers"), ",") {
		if name = strings.TrimSpace(name); name != "" && !containsFold(headers, name) {
			writeError(w, http.StatusForbidden, "CORS preflight: header "+name+" not allowed (allowed: "+strings.Join(headers, ", ")+")")
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

// handleMethods registers h for path under each method, and OPTIONS for
// CORS preflights.
func (s *server) handleMethods(path string, h http.HandlerFunc, methods ...string) {
	for _, m := range append(methods, http.MethodOptions) {
		s.mux.HandleFunc(m+" "+path, h)
	}
}

// routesCORS registers the CORS demo endpoints. The page calls them on
// the second origin, so every request is cross-origin.
func (s *server) routesCORS() error {
	simple := corsOptions{Expose: []string{"X-Comet-Info"}}
	s.handleMethods("/cors/simple", func(w http.ResponseWriter, r *http.Request) {
		if s.cors(w, r, simple) {
			return
		}
		w.Header().Set("X-Comet-Info", "exposed")
		w.Header().Set("X-Comet-Hidden", "not exposed")
		writeJSON(w, http.StatusOK, map[string]string{"cors": "simple", "origin": r.Header.Get("Origin")})
	}, "GET", "POST")
	s.handleMethods("/cors/denied", func(w http.ResponseWriter, r *http.Request) {
		if s.cors(w, r, corsOptions{Deny: true}) {
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"cors": "denied: the browser hides this body"})
	}, "GET", "POST", "PUT")
	preflight := corsOptions{
		Methods: []string{"GET", "PUT", "DELETE"},
		Headers: []string{"Content-Type", "X-Comet-Token"},
		MaxAge:  10 * time.Minute,
	}
	s.handleMethods("/cors/preflight", func(w http.ResponseWriter, r *http.Request) {
		if s.cors(w, r, preflight) {
			return
		}
		body, ok := readBody(w, r, s.cfg.MaxBodyBytes)
		if !ok {
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{
			"cors": "preflighted", "method": r.Method,
			"token": r.Header.Get("X-Comet-Token"), "body": string(body),
		})
	}, "GET", "PUT", "DELETE")
	creds := corsOptions{Credentials: true, Methods: []string{"GET", "POST"}}
	s.handleMethods("/cors/login", func(w http.ResponseWriter, r *http.Request) {
		if s.cors(w, r, creds) {
			return
		}
		value := r.URL.Query().Get("value")
		if value == "" || len(value) > 64 || !cookieSafe(value) {
			writeError(w, http.StatusBadRequest, "value: want 1 to 64 token characters")
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "comet_cors", Value: value, Path: "/cors/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
		writeJSON(w, http.StatusOK, map[string]string{"set": value})
	}, "GET", "POST")
	s.handleMethods("/cors/whoami", func(w http.ResponseWriter, r *http.Request) {
		if s.cors(w, r, creds) {
			return
		}
		value := ""
		if c, err := r.Cookie("comet_cors"); err == nil {
			value = c.Value
		}
		writeJSON(w, http.StatusOK, map[string]string{"cookie": value})
	}, "GET")
	return nil
}

// cookieSafe reports whether v is 1+ characters of [A-Za-z0-9_-].
func cookieSafe(v string) bool {
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return v != ""
}
