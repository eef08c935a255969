//go:build !js

package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cometwasm/comet/server/realtime"
	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/wire"
)

// TestMain fails the run if goroutines outlive the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := checkGoroutines(runtime.NumGoroutine, 5*time.Second); err != "" {
			os.Stderr.WriteString("goroutine leak: " + err + "\n")
			code = 1
		}
	}
	os.Exit(code)
}

// checkGoroutines waits until only the test runner's goroutines remain.
func checkGoroutines(count func() int, wait time.Duration) string {
	deadline := time.Now().Add(wait)
	for {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		var leaked []string
		for _, g := range strings.Split(stacks, "\n\n") {
			if strings.Contains(g, "testing.(*M).Run") || strings.Contains(g, "testing.tRunner") ||
				strings.Contains(g, "runtime.goexit") && strings.Contains(g, "signal.") ||
				strings.Contains(g, "os/signal.loop") || strings.Contains(g, "main.TestMain") ||
				strings.Contains(g, "checkGoroutines") {
				continue
			}
			leaked = append(leaked, g)
		}
		if len(leaked) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(leaked, "\n\n")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// testServer is a real comet server on two loopback listeners.
type testServer struct {
	*server
	hub       testHub
	URL, URL2 string
	page      *httptest.Server
	second    *httptest.Server
}

// newTestServer starts the server with cfg adjusted by edit (may be nil).
// The public folder is the repository's public/.
func newTestServer(t testing.TB, edit func(*config)) *testServer {
	t.Helper()
	ln1, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	cfg := defaultConfig()
	cfg.PageOrigin = "http://" + ln1.Addr().String()
	cfg.SecondOrigin = "http://" + ln2.Addr().String()
	cfg.PublicDir = filepath.Join("..", "public")
	cfg.DataDir = t.TempDir()
	cfg.TestHooks = true
	if edit != nil {
		edit(&cfg)
	}
	s, err := newServer(cfg, t.Logf)
	must(t, err)
	ts := &testServer{server: s, hub: testHub{s.rt}, URL: cfg.PageOrigin, URL2: cfg.SecondOrigin}
	ts.page = &httptest.Server{Listener: ln1, Config: s.httpServer(nil)}
	ts.second = &httptest.Server{Listener: ln2, Config: s.httpServer(nil)}
	ts.page.Start()
	ts.second.Start()
	t.Cleanup(func() {
		s.Close()
		ts.page.CloseClientConnections()
		ts.second.CloseClientConnections()
		ts.page.Close()
		ts.second.Close()
	})
	return ts
}

// get fetches url with optional headers as name, value pairs.
func get(t testing.TB, url string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	must(t, err)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	must(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	must(t, err)
	return resp, body
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func equal[T comparable](t testing.TB, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// testHub reaches the realtime library's broker and fault planner of a
// test server, for tests that publish or plan faults directly.
type testHub struct{ rt *realtime.Handler }

func (h testHub) Head(topic string) (wire.Cursor, error) {
	return h.rt.Broker().Head(context.Background(), topic)
}

// Publish appends one message and returns it as subscribers see it.
func (h testHub) Publish(topic, typ string, data json.RawMessage) (wire.Message, error) {
	r, err := h.rt.Broker().Publish(context.Background(), topic, []wire.Draft{{Type: typ, Data: data}}, broker.PublishOptions{})
	if err != nil {
		return wire.Message{}, err
	}
	if typ == "" {
		typ = wire.TypeMessage
	}
	if data == nil {
		data = json.RawMessage("null")
	}
	return wire.Message{Topic: topic, Epoch: r.Cursor.Epoch, Offset: r.Cursor.Offset, Type: typ, Data: data}, nil
}

// PublishBatch appends drafts and returns them as subscribers see them.
func (h testHub) PublishBatch(topic string, drafts []wire.Draft) ([]wire.Message, error) {
	r, err := h.rt.Broker().Publish(context.Background(), topic, drafts, broker.PublishOptions{})
	if err != nil {
		return nil, err
	}
	out := make([]wire.Message, len(drafts))
	for i, d := range drafts {
		if d.Type == "" {
			d.Type = wire.TypeMessage
		}
		if d.Data == nil {
			d.Data = json.RawMessage("null")
		}
		out[i] = wire.Message{Topic: topic, Epoch: r.Cursor.Epoch, Offset: r.Cursor.Offset - uint64(len(drafts)-1-i), Type: d.Type, Data: d.Data}
	}
	return out, nil
}

func (h testHub) Reset(topic string) error {
	return h.rt.Broker().(broker.Resetter).Reset(context.Background(), topic)
}

func (h testHub) SetFaults(topic string, p realtime.FaultPlan) error {
	h.rt.SetFaults(topic, p)
	return nil
}

func (h testHub) Faults(topic string) realtime.FaultStats { return h.rt.Faults(topic) }
func (h testHub) Subscribers() int                        { return h.rt.Subscribers() }
