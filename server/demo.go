//go:build !js

package main

import (
	"net/http"
	"strings"
	"time"

	"github.com/cometwasm/comet/server/internal/httpx"
	"github.com/cometwasm/comet/server/wire"
)

// routesDemo registers what the demo page needs besides public/: its
// settings (the two origins, so the page can reach the second one).
func (s *server) routesDemo() error {
	s.mux.HandleFunc("GET /demo/config", s.handleDemoConfig)
	s.handleMethods("/demo/token", s.handleDemoToken, http.MethodPost) // CORS: the allowed origins may sign in too
	return nil
}

func (s *server) handleDemoConfig(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, http.StatusOK, map[string]any{
		"pageOrigin":   s.cfg.PageOrigin,
		"secondOrigin": s.cfg.SecondOrigin,
		"tokens":       s.signer != nil,
	})
}

// demoTokenTTL is how long a demo token lasts: short, so the page shows
// refreshes.
const demoTokenTTL = 5 * time.Minute

// handleDemoToken is the demo's sign-in: {"user":"alice"} gets a realtime
// token for that user (no password: a demo, not an identity provider; a
// real application issues tokens after its own login). 404 without
// -token-secret-file. The page may ask again at any time (refresh).
func (s *server) handleDemoToken(w http.ResponseWriter, r *http.Request) {
	if s.cors(w, r, httpx.CORSOptions{Methods: []string{http.MethodPost}}) {
		return
	}
	if s.signer == nil {
		httpx.WriteError(w, http.StatusNotFound, "tokens are off (start the server with -token-secret-file)")
		return
	}
	if !s.origins.Trusted(r) {
		httpx.WriteError(w, http.StatusForbidden, "origin not allowed")
		return
	}
	var req struct {
		User string `json:"user"`
		TTL  int    `json:"ttlSeconds"`
	}
	if !httpx.DecodeJSON(w, r, 4<<10, &req) {
		return
	}
	if !validName(req.User) || strings.ContainsAny(req.User, ":/ ") || !wire.ValidTopic(req.User) {
		httpx.WriteError(w, http.StatusBadRequest, "user: want 1-64 of A-Z a-z 0-9 . _ -")
		return
	}
	ttl := demoTokenTTL
	if req.TTL > 0 {
		ttl = min(time.Duration(req.TTL)*time.Second, demoTokenTTL)
	}
	tok, err := s.signer.Issue(req.User, ttl, nil, nil)
	if err != nil {
		httpx.WriteError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"token": tok, "user": req.User, "expiresIn": int(ttl.Seconds())})
}
