//go:build !js

// Package browser starts headless Chromium for comet's tests with the flags
// this machine needs, and removes every temp folder it made when done.
//
// Use New to get a chromedp context; cancel it to stop Chromium.
package browser

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"

	"github.com/chromedp/chromedp"
)

// Path returns the Chromium binary: $CHROMIUM if set, else the first of
// chromium, chromium-browser and google-chrome on PATH.
func Path() (string, error) {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("browser: Chromium not found (install Debian's chromium, or set CHROMIUM); ./build.sh test installs it when run as root")
}

// New starts headless Chromium and returns a chromedp context for one tab.
// cancel stops Chromium and removes its profile and temp files.
func New(parent context.Context) (ctx context.Context, cancel context.CancelFunc, err error) {
	return NewWithFlags(parent, nil)
}

// NewWithFlags is New with extra Chromium command-line flags, e.g.
// {"ignore-certificate-errors-spki-list": hash} to trust a test
// certificate.
func NewWithFlags(parent context.Context, flags map[string]any) (ctx context.Context, cancel context.CancelFunc, err error) {
	path, err := Path()
	if err != nil {
		return nil, nil, err
	}
	dir, err := os.MkdirTemp("", "comet-chromium-")
	if err != nil {
		return nil, nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // root in containers and CI
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("no-first-run", true),
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(dir+"/profile"),
		// Chromium's own temp files (org.chromium.Chromium.*) land here too.
		chromedp.Env("TMPDIR="+dir),
	)
	for name, v := range flags {
		opts = append(opts, chromedp.Flag(name, v))
	}
	actx, acancel := chromedp.NewExecAllocator(parent, opts...)
	quiet := func(format string, args ...any) {
		if os.Getenv("COMET_BROWSER_DEBUG") != "" {
			fmt.Fprintf(os.Stderr, "chromedp: "+format+"\n", args...)
		}
	}
	tctx, tcancel := chromedp.NewContext(actx, chromedp.WithErrorf(quiet), chromedp.WithLogf(quiet))
	cancel = func() {
		tcancel()
		acancel()
		os.RemoveAll(dir)
	}
	if err := chromedp.Do(tctx); err != nil { // starts the browser and the tab
		cancel()
		return nil, nil, fmt.Errorf("browser: starting %s: %w", path, err)
	}
	return tctx, cancel, nil
}
