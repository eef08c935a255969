//go:build !js

package main

import (
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
	ts := &testServer{server: s, URL: cfg.PageOrigin, URL2: cfg.SecondOrigin}
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
