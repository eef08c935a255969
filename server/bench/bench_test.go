//go:build !js

package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestGoPackage(t *testing.T) {
	for _, tc := range []struct{ sym, want string }{
		{"runtime.mallocgc", "runtime"},
		{"context.__cancelCtx_.Done", "context"},
		{"internal_strconv.ParseFloat", "internal/strconv"},
		{"github.com_cometwasm_comet_wasm_xhr.__call_.response", "github.com/cometwasm/comet/wasm/xhr"},
		{"", "(unnamed)"},
	} {
		t.Run(tc.sym, func(t *testing.T) {
			if got := goPackage(tc.sym); got != tc.want {
				t.Errorf("goPackage(%q) = %q, want %q", tc.sym, got, tc.want)
			}
		})
	}
}

func TestPercentiles(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3}
	for _, tc := range []struct {
		name      string
		got, want float64
	}{
		{"median odd", median(xs), 3},
		{"median even", median([]float64{4, 1, 3, 2}), 2.5},
		{"p50", percentile(xs, 50), 3},
		{"p99", percentile(xs, 99), 5},
		{"p0", percentile(xs, 0), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
}

// TestCountingProxy sends two requests on one connection through the
// proxy and checks the counts against what went over the wire.
func TestCountingProxy(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Test", "1")
		io.WriteString(w, strings.Repeat("x", 1000))
	}))
	defer ts.Close()
	p, err := newCountingProxy()
	if err != nil {
		t.Fatal(err)
	}
	go p.serve(strings.TrimPrefix(ts.URL, "http://"))
	defer p.close()
	before := p.snapshot()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	for _, path := range []string{"/a", "/b?q=1"} {
		resp, err := client.Get(p.url() + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	client.CloseIdleConnections()
	// The proxy counts as it relays: wait (bounded) until it has seen both.
	after := p.snapshot()
	for deadline := time.Now().Add(5 * time.Second); after.requests-before.requests < 2 || len(p.headsSince(before)) < 2; after = p.snapshot() {
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := after.requests - before.requests; got != 2 {
		t.Errorf("requests = %d, want 2", got)
	}
	if got := after.conns - before.conns; got != 1 {
		t.Errorf("connections = %d, want 1", got)
	}
	if got := after.down - before.down; got < 2000 {
		t.Errorf("bytes down = %d, want > 2000 (two 1000 B bodies plus headers)", got)
	}
	heads := p.headsSince(before)
	if len(heads) != 2 || heads[0].path != "/a" || heads[1].path != "/b?q=1" {
		t.Fatalf("heads = %+v, want /a and /b?q=1", heads)
	}
	// "HTTP/1.1 200 OK\r\n" + Content-Length, Content-Type, Date, X-Test + "\r\n".
	if h := heads[0]; h.status != 200 || h.bytes < 100 || h.bytes > 200 {
		t.Errorf("head = %d, %d B; want 200 and 100-200 B", h.status, h.bytes)
	}
}

// TestFindingsFormat renders the findings against this tree: every %s has
// its located line, and no stray % verb is left.
func TestFindingsFormat(t *testing.T) {
	b := &bench{root: "../.."}
	sec := &section{}
	if err := b.findings(t.Context(), sec); err != nil {
		t.Fatal(err)
	}
	if body := sec.body.String(); strings.Contains(body, "%!") {
		t.Errorf("findings have a bad format verb: %q", body[strings.Index(body, "%!"):][:40])
	}
}
