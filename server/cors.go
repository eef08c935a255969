//go:build !js

package main

import (
	"net/http"
	"time"

	"github.com/cometwasm/comet/server/internal/httpx"
)

// cors applies the one origin policy to r (see httpx.CORS); handled true
// means it has answered and the caller must return.
func (s *server) cors(w http.ResponseWriter, r *http.Request, opt httpx.CORSOptions) (handled bool) {
	return httpx.CORS(w, r, s.origins, opt)
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
	simple := httpx.CORSOptions{Expose: []string{"X-Comet-Info"}}
	s.handleMethods("/cors/simple", func(w http.ResponseWriter, r *http.Request) {
		if s.cors(w, r, simple) {
			return
		}
		w.Header().Set("X-Comet-Info", "exposed")
		w.Header().Set("X-Comet-Hidden", "not exposed")
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"cors": "simple", "origin": r.Header.Get("Origin")})
	}, "GET", "POST")
	s.handleMethods("/cors/denied", func(w http.ResponseWriter, r *http.Request) {
		if s.cors(w, r, httpx.CORSOptions{Deny: true}) {
			return
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"cors": "denied: the browser hides this body"})
	}, "GET", "POST", "PUT")
	preflight := httpx.CORSOptions{
		Methods: []string{"GET", "PUT", "DELETE"},
		Headers: []string{"Content-Type", "X-Comet-Token"},
		MaxAge:  10 * time.Minute,
	}
	s.handleMethods("/cors/preflight", func(w http.ResponseWriter, r *http.Request) {
		if s.cors(w, r, preflight) {
			return
		}
		body, ok := httpx.ReadBody(w, r, s.cfg.MaxBodyBytes)
		if !ok {
			return
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]string{
			"cors": "preflighted", "method": r.Method,
			"token": r.Header.Get("X-Comet-Token"), "body": string(body),
		})
	}, "GET", "PUT", "DELETE")
	creds := httpx.CORSOptions{Credentials: true, Methods: []string{"GET", "POST"}}
	s.handleMethods("/cors/login", func(w http.ResponseWriter, r *http.Request) {
		if s.cors(w, r, creds) {
			return
		}
		value := r.URL.Query().Get("value")
		if value == "" || len(value) > 64 || !cookieSafe(value) {
			httpx.WriteError(w, http.StatusBadRequest, "value: want 1 to 64 token characters")
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "comet_cors", Value: value, Path: "/cors/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"set": value})
	}, "GET", "POST")
	s.handleMethods("/cors/whoami", func(w http.ResponseWriter, r *http.Request) {
		if s.cors(w, r, creds) {
			return
		}
		value := ""
		if c, err := r.Cookie("comet_cors"); err == nil {
			value = c.Value
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"cookie": value})
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
