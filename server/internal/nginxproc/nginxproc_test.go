//go:build !js

package nginxproc_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/cometwasm/comet/server/internal/nginxproc"
)

// TestProxy runs nginx in front of two upstreams and checks what comet
// needs of it: a streamed response passes through unbuffered (the first
// line arrives while the upstream still holds the response open), a
// WebSocket upgrade works, requests reach every upstream, and the access
// log names the upstream of each request.
func TestProxy(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	up := func(name string) *httptest.Server {
		mux := http.NewServeMux()
		mux.HandleFunc("/name", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, name) })
		mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintln(w, "first")
			http.NewResponseController(w).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
			c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
			if err != nil {
				return
			}
			defer c.CloseNow()
			typ, p, err := c.Read(r.Context())
			if err == nil {
				c.Write(r.Context(), typ, append([]byte(name+":"), p...))
			}
		})
		s := httptest.NewServer(mux)
		t.Cleanup(s.Close)
		return s
	}
	a, b := up("a"), up("b")
	ng := nginxproc.ForTest(t, nginxproc.Config{Upstreams: []string{a.Listener.Addr().String(), b.Listener.Addr().String()}})
	if !strings.HasPrefix(ng.URL(), "http://127.0.0.1:") {
		t.Fatalf("URL %q", ng.URL())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	seen := map[string]bool{}
	for range 4 {
		resp, err := http.Get(ng.URL() + "/name")
		if err != nil {
			t.Fatal(err)
		}
		var sb strings.Builder
		bufio.NewReader(resp.Body).WriteTo(&sb)
		resp.Body.Close()
		seen[sb.String()] = true
	}
	if !seen["a"] || !seen["b"] {
		t.Errorf("round robin reached %v, want a and b", seen)
	}

	req, _ := http.NewRequestWithContext(ctx, "GET", ng.URL()+"/stream", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	resp.Body.Close()
	if line != "first\n" {
		t.Fatalf("streamed line %q, %v: want it before the response ends (proxy_buffering off)", line, err)
	}

	c, _, err := websocket.Dial(ctx, "ws://"+ng.Addr+"/ws", nil)
	if err != nil {
		t.Fatalf("WebSocket through nginx: %v (%s)", err, ng.ErrorLog())
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	_, p, err := c.Read(ctx)
	if err != nil || (string(p) != "a:hi" && string(p) != "b:hi") {
		t.Fatalf("echo %q, %v", p, err)
	}
}

func TestStartNoUpstreams(t *testing.T) {
	if _, err := nginxproc.Start(nginxproc.Config{}); err == nil {
		t.Fatal("Start with no upstreams succeeded")
	}
}
