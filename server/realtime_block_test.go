//go:build !js

package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestTransportGate: a blocked session transport answers 503 and its open
// requests end; others pass; the block lifts.
func TestTransportGate(t *testing.T) {
	t.Parallel()
	g := newTransportGate()
	started := make(chan struct{}, 1)
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/hang") || r.URL.Path == "/realtime/session/sse" {
			started <- struct{}{}
			<-r.Context().Done()
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux := http.NewServeMux()
	mux.Handle("/", g.wrap(inner))
	mux.HandleFunc("POST /test/realtime/block", g.handleBlock)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	post := func(body string) int {
		resp, err := http.Post(srv.URL+"/test/realtime/block", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	get := func(path string) int {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, bad := range []string{`{"transport":"ftp","ms":10}`, `{"transport":"ws","ms":-1}`, `{"transport":"ws","ms":60001}`, `{`} {
		if code := post(bad); code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", bad, code)
		}
	}
	// An open SSE session ends when its transport is blocked.
	ended := make(chan int, 1)
	go func() { ended <- get("/realtime/session/sse") }()
	<-started
	if code := post(`{"transport":"sse","ms":60000}`); code != http.StatusOK {
		t.Fatalf("block: %d", code)
	}
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the open SSE request did not end")
	}
	if code := get("/realtime/session/sse"); code != http.StatusServiceUnavailable {
		t.Errorf("blocked sse: %d, want 503", code)
	}
	if code := get("/realtime/session/ws"); code != http.StatusNoContent {
		t.Errorf("ws while sse is blocked: %d", code)
	}
	if code := get("/realtime/poll"); code != http.StatusNoContent {
		t.Errorf("a non-session path: %d", code)
	}
	post(`{"transport":"sse","ms":0}`)
	if code := get("/realtime/session/poll"); code != http.StatusNoContent {
		t.Errorf("poll: %d", code)
	}
	go func() { ended <- get("/realtime/session/sse") }()
	<-started
	post(`{"transport":"sse","ms":1}`) // ends it again
	<-ended
}
