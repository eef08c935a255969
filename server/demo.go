//go:build !js

package main

import (
	"net/http"

	"github.com/cometwasm/comet/server/internal/httpx"
)

// routesDemo registers what the demo page needs besides public/: its
// settings (the two origins, so the page can reach the second one).
func (s *server) routesDemo() error {
	s.mux.HandleFunc("GET /demo/config", s.handleDemoConfig)
	return nil
}

func (s *server) handleDemoConfig(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, http.StatusOK, map[string]any{
		"pageOrigin":   s.cfg.PageOrigin,
		"secondOrigin": s.cfg.SecondOrigin,
	})
}
