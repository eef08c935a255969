//go:build !js

package main

import (
	"encoding/json"
	"net/http"
	"regexp"
	"time"

	"github.com/cometwasm/comet/server/internal/httpx"
)

// jsonpCallback is a JavaScript identifier, or a dotted path of them.
var jsonpCallback = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)*$`)

const maxJSONPCallback = 128

func (s *server) routesJSONP() error {
	s.mux.HandleFunc("GET /jsonp", s.handleJSONP)
	return nil
}

// handleJSONP answers callback({...}) as application/javascript.
// delay=ms waits first; mode=silent answers a script that never calls
// back (the failure a JSONP client can only detect by timeout).
func (s *server) handleJSONP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	cb := q.Get("callback")
	if len(cb) > maxJSONPCallback || !jsonpCallback.MatchString(cb) {
		httpx.WriteError(w, http.StatusBadRequest, "callback: want a JavaScript identifier or a dotted path of them")
		return
	}
	d, ok := xhrQueryDuration(w, r, "delay", 0)
	if !ok {
		return
	}
	if d > 0 && !s.xhrSleep(r, d) {
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/javascript; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	if q.Get("mode") == "silent" {
		w.Write([]byte("/* no callback: this JSONP fails silently */\n"))
		return
	}
	data, _ := json.Marshal(map[string]any{"ok": true, "msg": q.Get("msg"), "time": time.Now().UnixMilli()})
	w.Write([]byte(cb + "(" + string(data) + ");\n"))
}
