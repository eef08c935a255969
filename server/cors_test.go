//go:build !js

package main

import (
	"net/http/httptest"
	"testing"

	"github.com/cometwasm/comet/server/internal/httpx"
)

func TestCORSHelper(t *testing.T) {
	ts := newTestServer(t, nil)
	allowed := ts.URL2
	tests := []struct {
		name                         string
		method, origin, reqMethod    string
		opt                          httpx.CORSOptions
		wantHandled                  bool
		wantStatus                   int
		wantACAO, wantCreds, wantMax string
	}{
		{"simple allowed", "GET", allowed, "", httpx.CORSOptions{}, false, 200, allowed, "", ""},
		{"simple credentialed", "GET", allowed, "", httpx.CORSOptions{Credentials: true}, false, 200, allowed, "true", ""},
		{"simple denied origin", "GET", "http://evil.example", "", httpx.CORSOptions{}, false, 200, "", "", ""},
		{"deny mode", "GET", allowed, "", httpx.CORSOptions{Deny: true}, false, 200, "", "", ""},
		{"no origin", "GET", "", "", httpx.CORSOptions{}, false, 200, "", "", ""},
		{"preflight allowed", "OPTIONS", allowed, "PUT", httpx.CORSOptions{Methods: []string{"PUT"}}, true, 204, allowed, "", "600"},
		{"preflight denied", "OPTIONS", "http://evil.example", "PUT", httpx.CORSOptions{}, true, 403, "", "", ""},
		{"plain OPTIONS", "OPTIONS", allowed, "", httpx.CORSOptions{}, false, 200, allowed, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/x", nil)
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			if tt.reqMethod != "" {
				r.Header.Set("Access-Control-Request-Method", tt.reqMethod)
			}
			w := httptest.NewRecorder()
			handled := ts.cors(w, r, tt.opt)
			equal(t, "handled", handled, tt.wantHandled)
			equal(t, "status", w.Code, tt.wantStatus)
			h := w.Result().Header
			equal(t, "Allow-Origin", h.Get("Access-Control-Allow-Origin"), tt.wantACAO)
			equal(t, "Allow-Credentials", h.Get("Access-Control-Allow-Credentials"), tt.wantCreds)
			equal(t, "Max-Age", h.Get("Access-Control-Max-Age"), tt.wantMax)
			equal(t, "Vary has Origin", h.Values("Vary")[0], "Origin")
			if h.Get("Access-Control-Allow-Origin") == "*" {
				t.Error("Allow-Origin is *")
			}
		})
	}
}
