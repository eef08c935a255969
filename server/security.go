//go:build !js

package main

import (
	"net/http"
	"strings"

	"github.com/cometwasm/comet/server/internal/httpx"
)

// guard runs before every handler (from ServeHTTP). It enforces the limits
// that hold for every endpoint, whatever the handler does (httpx.Guard):
// the body limit (cfg.MaxBodyBytes, or the route's own in s.bodyLimits),
// cfg.BodyReadTimeout, cfg.WriteTimeout and the URL length. It reports
// false when it has answered.
func (s *server) guard(w http.ResponseWriter, r *http.Request) bool {
	var limit int64
	if len(s.bodyLimits) > 0 {
		if _, pattern := s.mux.Handler(r); pattern != "" {
			limit = s.bodyLimits[pattern]
		}
	}
	g := httpx.Guard{MaxBody: s.cfg.MaxBodyBytes, BodyReadTimeout: s.cfg.BodyReadTimeout, WriteTimeout: s.cfg.WriteTimeout,
		WebSocketRoute: isWSRoute}
	return g.Check(w, r, limit)
}

// isWSRoute reports whether r is for one of the WebSocket endpoints (ws.go,
// the realtime library's /realtime/ws and its older path /ws/realtime).
func isWSRoute(r *http.Request) bool {
	p := r.URL.Path
	return strings.HasPrefix(p, "/ws/") || strings.HasPrefix(p, "/test/ws/") || p == "/realtime/ws" || p == "/realtime/session/ws"
}
