//go:build !js

package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cometwasm/comet/server/internal/browser"
)

// e2e opens the demo page in headless Chromium against a real server. It
// runs only with COMET_E2E=1 (./build.sh test sets it after building the
// wasm), and fails if the wasm is missing.
type e2e struct {
	*testServer
	ctx context.Context
	t   *testing.T
}

func newE2E(t *testing.T) *e2e {
	t.Helper()
	return newE2EWith(t, nil)
}

// newE2EWith is newE2E on a server whose config edit changes.
func newE2EWith(t *testing.T, edit func(*config)) *e2e {
	t.Helper()
	if os.Getenv("COMET_E2E") == "" {
		t.Skip("browser end-to-end test: set COMET_E2E=1 (./build.sh test does)")
	}
	if _, err := os.Stat(filepath.Join("..", "public", "app.wasm")); err != nil {
		t.Fatalf("public/app.wasm missing: run ./build.sh wasm first (%v)", err)
	}
	ts := newTestServer(t, edit)
	ctx, cancel, err := browser.New(context.Background())
	must(t, err)
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancelTimeout)
	return &e2e{testServer: ts, ctx: ctx, t: t}
}

// do runs chromedp actions, failing the test on error.
func (e *e2e) do(actions ...chromedp.Action[chromedp.Void]) {
	e.t.Helper()
	if err := chromedp.Do(e.ctx, actions...); err != nil {
		e.t.Fatal(err)
	}
}

// screenshot saves the page as $COMET_ARTIFACTS/name.png.
func (e *e2e) screenshot(name string) {
	e.t.Helper()
	dir := os.Getenv("COMET_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "comet-artifacts")
	}
	must(e.t, os.MkdirAll(dir, 0o755))
	png, err := chromedp.Run(e.ctx, chromedp.FullScreenshot(100))
	must(e.t, err)
	path := filepath.Join(dir, name+".png")
	must(e.t, os.WriteFile(path, png, 0o644))
	e.t.Logf("screenshot: %s", path)
}

func TestE2EPageStarts(t *testing.T) {
	e := newE2E(t)
	e.do(chromedp.Navigate(e.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#app-ready")))
	text, err := chromedp.Run(e.ctx, chromedp.Text(chromedp.CSS("#app-ready")))
	must(t, err)
	equal(t, "ready text", text, "Go is running.")
	e.screenshot("start")
}
