//go:build !js

package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cometwasm/comet/server/internal/browser"
	"github.com/cometwasm/comet/server/internal/serverproc"
)

//go:embed page/bench.html
var benchHTML []byte

//go:embed page/bench.js
var benchJS []byte

// env is what the browser, wire and latency sections share: one server
// serving the bench page, a counting proxy in front of it (a second page
// origin the server allows), and one headless Chromium tab.
type env struct {
	srv      *serverproc.Proc
	proxy    *countingProxy
	tab      context.Context
	closeTab context.CancelFunc
	programs []string // the Go programs loaded in the page
	origin   string   // the page's current origin
}

// benchPrograms are the Go wasm programs the page loads.
var benchPrograms = []struct{ file, pkg string }{
	{"comet.wasm", "./wasm/internal/bench/comet"},
	{"coder.wasm", "./wasm/internal/bench/coder"},
}

// env starts (once) the server, proxy and Chromium.
func (b *bench) env(ctx context.Context) (*env, error) {
	if b.shared != nil {
		return b.shared, nil
	}
	public := filepath.Join(b.work, "public")
	if err := os.MkdirAll(public, 0o755); err != nil {
		return nil, err
	}
	wasmLib, err := goEnv(ctx, "GOROOT")
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{"bench.html": benchHTML, "bench.js": benchJS}
	if files["wasm_exec.js"], err = os.ReadFile(filepath.Join(wasmLib, "lib", "wasm", "wasm_exec.js")); err != nil {
		return nil, err
	}
	if files["comet_batch.js"], err = os.ReadFile(filepath.Join(b.root, "public", "comet_batch.js")); err != nil {
		return nil, err
	}
	var programs []string
	for _, p := range benchPrograms {
		if _, err := os.Stat(filepath.Join(b.root, p.pkg)); err != nil {
			logf("bench program %s missing: skipped", p.pkg)
			continue
		}
		logf("building %s", p.pkg)
		// Not stripped: the CPU profiles need the name section.
		if err := goBuild(ctx, b.root, wasmEnv, filepath.Join(public, p.file), p.pkg, "-trimpath"); err != nil {
			return nil, err
		}
		programs = append(programs, p.file)
	}
	files["bench.json"], _ = json.Marshal(map[string]any{"programs": programs})
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(public, name), data, 0o644); err != nil {
			return nil, err
		}
	}
	proxy, err := newCountingProxy()
	if err != nil {
		return nil, err
	}
	srv, err := b.startServer(ctx, "-public", public, "-allow-origin", proxy.url(), "-test-hooks", "-max-body", "33554432")
	if err != nil {
		proxy.close()
		return nil, err
	}
	go proxy.serve(strings.TrimPrefix(srv.Page, "http://"))
	tab, closeTab, err := browser.New(context.Background())
	if err != nil {
		proxy.close()
		srv.Stop()
		return nil, err
	}
	e := &env{srv: srv, proxy: proxy, tab: tab, closeTab: closeTab, programs: programs}
	go e.console()
	b.shared = e
	return e, nil
}

func (b *bench) closeEnv() {
	if e := b.shared; e != nil {
		e.closeTab()
		e.proxy.close()
		e.srv.Stop()
		b.shared = nil
	}
}

// console logs the page's errors and Go's output (stderr of the Go
// programs arrives as console.log): every line with BENCH_VERBOSE, else
// only exceptions and lines that look like panics.
func (e *env) console() {
	verbose := os.Getenv("BENCH_VERBOSE") != ""
	for m, err := range chromedp.Console(e.tab) {
		if err != nil {
			return
		}
		text := m.Text
		if m.IsException() && m.Exception != nil {
			text = (&chromedp.ExceptionError{ExceptionDetails: m.Exception}).Error()
		}
		if verbose || m.IsException() || strings.Contains(text, "panic") || strings.Contains(text, "fatal error") || strings.HasPrefix(text, "goroutine ") {
			logf("page: %s", text)
		}
	}
}

// open loads the bench page from origin (the server's, or the proxy's) and
// waits until its Go programs are ready.
func (e *env) open(ctx context.Context, origin string) error {
	if e.origin == origin {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	tctx, tcancel := context.WithCancel(e.tab)
	defer tcancel()
	go func() { <-ctx.Done(); tcancel() }()
	if err := chromedp.Do(tctx, chromedp.Navigate(origin+"/bench.html")); err != nil {
		return fmt.Errorf("opening the bench page: %w", err)
	}
	for {
		state, err := chromedp.Run(tctx, chromedp.Evaluate[string](`globalThis.benchLoadError || (globalThis.benchLoaded ? "ok" : "")`))
		if err != nil {
			return err
		}
		switch state {
		case "ok":
			e.origin = origin
			return nil
		case "":
			time.Sleep(100 * time.Millisecond)
		default:
			return fmt.Errorf("bench page: %s", state)
		}
	}
}

// has reports whether the page loaded Go program impl ("comet", "coder").
func (e *env) has(impl string) bool {
	if impl == "js" {
		return true
	}
	for _, p := range e.programs {
		if p == impl+".wasm" {
			return true
		}
	}
	return false
}

// result is one case's outcome, from JS or Go.
type result struct {
	N     int       `json:"n"`
	Ms    float64   `json:"ms"`
	Bytes int64     `json:"bytes"`
	Lat   []float64 `json:"lat"`
}

// run runs one case in the page, bounded by timeout.
func (e *env) run(ctx context.Context, impl, name string, params map[string]any, timeout time.Duration) (result, error) {
	if !e.has(impl) {
		return result{}, fmt.Errorf("%s is not loaded", impl)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tctx, tcancel := context.WithCancel(e.tab)
	defer tcancel()
	go func() { <-ctx.Done(); tcancel() }()
	p, _ := json.Marshal(params)
	expr := fmt.Sprintf("benchRun(%q, %q, %s)", impl, name, p)
	r, err := chromedp.Run(tctx, chromedp.Evaluate[result](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		if ctx.Err() != nil {
			return r, fmt.Errorf("%s %s: timed out after %s", impl, name, timeout)
		}
		return r, fmt.Errorf("%s %s: %w", impl, name, err)
	}
	if r.N == 0 && params["count"] != 0 {
		return r, fmt.Errorf("%s %s: nothing completed", impl, name)
	}
	return r, nil
}

// ready waits until the running case says it is subscribed
// (globalThis.benchReadyFlag), so the host can start publishing.
func (e *env) ready(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		ok, err := chromedp.Run(e.tab, chromedp.Evaluate[bool](`globalThis.benchReadyFlag === true`))
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("the page did not subscribe in time")
}

func goEnv(ctx context.Context, key string) (string, error) {
	out, err := commandOutput(ctx, "go", "env", key)
	return strings.TrimSpace(out), err
}
