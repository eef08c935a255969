//go:build !js

package main

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mccutchen/go-httpbin/v2/httpbin"
	sse "github.com/tmaxmax/go-sse"
)

// interopServers are servers comet did not write, for the interop tests
// (wasm/internal/interop): each is another library on its own loopback
// port, so each is a foreign origin to the test page.
//
//	COMET_INTEROP_HTTPBIN  github.com/mccutchen/go-httpbin/v2 (CORS: echoes the Origin, answers preflights)
//	COMET_INTEROP_WS       github.com/gorilla/websocket: /echo, /strict (default origin check: 403), /proto (subprotocol "only.v1")
//	COMET_INTEROP_SSE      github.com/tmaxmax/go-sse sessions behind a plain CORS policy (see sseHandler)
//	COMET_INTEROP_REFUSED  a loopback port nothing listens on
type interopServers struct {
	httpbin, ws, sse, refused string
	servers                   []*http.Server
}

// startInterop starts the servers on 127.0.0.1.
func startInterop() (*interopServers, error) {
	s := &interopServers{}
	var err error
	if s.httpbin, err = s.serve(httpbin.New(httpbin.WithMaxDuration(15 * time.Second))); err != nil {
		s.Close()
		return nil, err
	}
	if s.ws, err = s.serve(wsHandler()); err != nil {
		s.Close()
		return nil, err
	}
	if s.sse, err = s.serve(sseHandler()); err != nil {
		s.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.Close()
		return nil, err
	}
	s.refused = "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now; the kernel does not hand it out again at once
	return s, nil
}

func (s *interopServers) serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	s.servers = append(s.servers, srv)
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), nil
}

// origins are what the comet server must allow for the page's CSP to let
// the test connect (-allow-origin; it adds the ws: variants).
func (s *interopServers) origins() []string {
	return []string{s.httpbin, s.ws, s.sse, s.refused}
}

func (s *interopServers) env() []string {
	return []string{
		"COMET_INTEROP_HTTPBIN=" + s.httpbin,
		"COMET_INTEROP_WS=ws://" + strings.TrimPrefix(s.ws, "http://"),
		"COMET_INTEROP_SSE=" + s.sse,
		"COMET_INTEROP_REFUSED=" + s.refused,
	}
}

// Close stops every server and closes their connections.
func (s *interopServers) Close() {
	for _, srv := range s.servers {
		srv.Close()
	}
}

// wsHandler serves gorilla/websocket endpoints:
//
//	/echo    echoes every message; offers subprotocols "chat.v1", "chat.v2".
//	         A text "drop" makes it close the TCP connection without a close
//	         frame; "close:CODE REASON" makes it close with that code and reason.
//	/strict  gorilla's default Upgrader: a cross-origin page gets 403.
//	/proto   accepts only subprotocol "only.v1".
func wsHandler() http.Handler {
	anyOrigin := func(*http.Request) bool { return true } // test-only, loopback
	mux := http.NewServeMux()
	echo := &websocket.Upgrader{CheckOrigin: anyOrigin, Subprotocols: []string{"chat.v1", "chat.v2"}}
	mux.HandleFunc("GET /echo", func(w http.ResponseWriter, r *http.Request) { serveEcho(echo, w, r) })
	strict := &websocket.Upgrader{}
	mux.HandleFunc("GET /strict", func(w http.ResponseWriter, r *http.Request) { serveEcho(strict, w, r) })
	proto := &websocket.Upgrader{CheckOrigin: anyOrigin, Subprotocols: []string{"only.v1"}}
	mux.HandleFunc("GET /proto", func(w http.ResponseWriter, r *http.Request) { serveEcho(proto, w, r) })
	return mux
}

func serveEcho(u *websocket.Upgrader, w http.ResponseWriter, r *http.Request) {
	c, err := u.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has answered
	}
	defer c.Close()
	c.SetReadLimit(8 << 20)
	for {
		typ, p, err := c.ReadMessage() // answers a close frame with the same code
		if err != nil {
			return
		}
		if typ == websocket.TextMessage && string(p) == "drop" {
			return // TCP close, no close frame: the browser sees 1006
		}
		if code, reason, ok := strings.Cut(string(p), " "); typ == websocket.TextMessage && strings.HasPrefix(code, "close:") {
			n, err := strconv.Atoi(strings.TrimPrefix(code, "close:"))
			if err != nil || !ok {
				return
			}
			c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(n, reason), time.Now().Add(time.Second))
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			c.ReadMessage() // the browser's answer ends the handshake
			return
		}
		if err := c.WriteMessage(typ, p); err != nil {
			return
		}
	}
}

// sseHandler serves go-sse sessions the way a plain server would: every
// answer allows any origin ("*") and nothing answers a preflight (OPTIONS
// gets 405 from the mux), so only CORS-simple requests reach it.
//
//	/once?key=K  the first request for K gets one event (id "1", retry
//	             50ms) and the stream ends; every later request for K
//	             gets 200 text/plain, which makes EventSource give up.
//	/count?n=N   events N times over: ids 1..N, two per connection, data
//	             on two lines, every other one named "tick"; a reconnect
//	             resumes after its Last-Event-ID; after N, 204.
func sseHandler() http.Handler {
	var mu sync.Mutex
	seen := map[string]bool{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /once", func(w http.ResponseWriter, r *http.Request) {
		key := r.URL.Query().Get("key")
		mu.Lock()
		again := seen[key]
		if !again && len(seen) < 10000 {
			seen[key] = true
		}
		mu.Unlock()
		if again {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Write([]byte("down for maintenance\n"))
			return
		}
		sess, err := sse.Upgrade(w, r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		m := &sse.Message{ID: sse.ID("1"), Retry: 50 * time.Millisecond}
		m.AppendData("first")
		sess.Send(m)
		sess.Flush()
	})
	mux.HandleFunc("GET /count", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil || n < 1 || n > 1000 {
			http.Error(w, "n: want 1..1000", http.StatusBadRequest)
			return
		}
		sess, err := sse.Upgrade(w, r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		last, _ := strconv.Atoi(sess.LastEventID.String())
		if last >= n {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		for i := last + 1; i <= min(last+2, n); i++ {
			m := &sse.Message{ID: sse.ID(strconv.Itoa(i)), Retry: 20 * time.Millisecond}
			if i%2 == 0 {
				m.Type = sse.Type("tick")
			}
			m.AppendData("event "+strconv.Itoa(i), "line 2")
			if err := sess.Send(m); err != nil {
				return
			}
		}
		sess.Flush()
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		mux.ServeHTTP(w, r)
	})
}
