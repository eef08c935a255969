//go:build !js

package main

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// TestInteropSSEIsPlain: the SSE fixture must stay a plain server (ACAO
// "*", no preflight answers), or TestSSEProbeSendsNoPreflight tests
// nothing; /once and /count behave as documented.
func TestInteropSSEIsPlain(t *testing.T) {
	srv := httptest.NewServer(sseHandler())
	defer srv.Close()
	pre, _ := http.NewRequest("OPTIONS", srv.URL+"/once?key=a", nil)
	pre.Header.Set("Origin", "http://127.0.0.1:1")
	pre.Header.Set("Access-Control-Request-Method", "GET")
	pre.Header.Set("Access-Control-Request-Headers", "last-event-id")
	resp, err := http.DefaultClient.Do(pre)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Access-Control-Allow-Headers") != "" {
		t.Fatalf("preflight: %d %v, want 405 without Allow-Headers", resp.StatusCode, resp.Header)
	}
	for i, want := range []string{"text/event-stream", "text/plain; charset=utf-8", "text/plain; charset=utf-8"} {
		resp, err := http.Get(srv.URL + "/once?key=a")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != want || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("/once request %d: %d %v, want %s", i+1, resp.StatusCode, resp.Header, want)
		}
	}
	for _, tc := range []struct {
		last   string
		status int
		ids    []string
	}{{"", 200, []string{"1", "2"}}, {"2", 200, []string{"3"}}, {"3", 204, nil}} {
		req, _ := http.NewRequest("GET", srv.URL+"/count?n=3", nil)
		if tc.last != "" {
			req.Header.Set("Last-Event-ID", tc.last)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if id, ok := strings.CutPrefix(sc.Text(), "id: "); ok {
				ids = append(ids, id)
			}
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status || strings.Join(ids, ",") != strings.Join(tc.ids, ",") {
			t.Fatalf("/count after %q: %d ids %v, want %d %v", tc.last, resp.StatusCode, ids, tc.status, tc.ids)
		}
	}
}

// TestInteropWSFixtures: /strict refuses a foreign Origin with 403 (the
// dial-failure test needs it), /proto accepts only "only.v1", /echo echoes.
func TestInteropWSFixtures(t *testing.T) {
	srv := httptest.NewServer(wsHandler())
	defer srv.Close()
	base := "ws" + strings.TrimPrefix(srv.URL, "http")
	h := http.Header{"Origin": {"http://127.0.0.1:1"}}
	if _, resp, err := websocket.DefaultDialer.Dial(base+"/strict", h); err == nil || resp == nil || resp.StatusCode != 403 {
		t.Fatalf("/strict with a foreign Origin: %v %v, want 403", resp, err)
	}
	d := websocket.Dialer{Subprotocols: []string{"other.v1"}}
	if c, _, err := d.Dial(base+"/proto", h); err != nil || c.Subprotocol() != "" {
		t.Fatalf("/proto offering other.v1: %v; gorilla should accept with no subprotocol (the browser then fails)", err)
	} else {
		c.Close()
	}
	c, _, err := websocket.DefaultDialer.Dial(base+"/echo", h)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WriteMessage(websocket.TextMessage, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if _, p, err := c.ReadMessage(); err != nil || string(p) != "hi" {
		t.Fatalf("echo: %q %v", p, err)
	}
}
