//go:build !js

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/chromedp/chromedp"

	"github.com/cometwasm/comet/server/internal/browser"
)

const exitMarker = "__WASMRUN_EXIT__ "

// runChromium serves the test binary from the server's own origin and runs
// it in headless Chromium. Go's output arrives on the console; an uncaught
// JavaScript exception or unhandled rejection fails the run, because comet's
// Go APIs must never let one escape.
func runChromium(ctx context.Context, wasmFile string, args, testEnv []string, publicDir, pageURL string) (int, error) {
	wasmLib, err := goWasmLib()
	if err != nil {
		return 1, err
	}
	pageDir, err := harnessDir("page")
	if err != nil {
		return 1, err
	}
	for dst, src := range map[string]string{
		"test.wasm":    wasmFile,
		"wasm_exec.js": filepath.Join(wasmLib, "wasm_exec.js"),
		"test.html":    filepath.Join(pageDir, "test.html"),
		"test.js":      filepath.Join(pageDir, "test.js"),
		// The helper script the packages detect (public/comet_batch.js).
		"comet_batch.js": filepath.Join(pageDir, "..", "..", "..", "public", "comet_batch.js"),
	} {
		if err := copyFile(filepath.Join(publicDir, dst), src); err != nil {
			return 1, err
		}
	}
	env := map[string]string{}
	for _, kv := range testEnv {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for _, k := range []string{"HOME", "TMPDIR", "COMET_TEST_SHORT"} { // what tests may read besides ours
		if v, ok := os.LookupEnv(k); ok {
			env[k] = v
		}
	}
	cfg, _ := json.Marshal(map[string]any{"args": args, "env": env})
	if err := os.WriteFile(filepath.Join(publicDir, "config.json"), cfg, 0o644); err != nil {
		return 1, err
	}

	bctx, cancel, err := browser.New(ctx)
	if err != nil {
		return 1, err
	}
	defer cancel()
	messages := chromedp.Console(bctx)
	if err := chromedp.Do(bctx, chromedp.Navigate(pageURL+"/test.html")); err != nil {
		return 1, fmt.Errorf("opening the test page: %w", err)
	}
	verbose := os.Getenv("WASMRUN_VERBOSE") != ""
	exceptions := 0
	for m, err := range messages {
		if err != nil {
			return 1, fmt.Errorf("reading the browser console: %w", err)
		}
		switch {
		case m.Type == chromedp.ConsoleDebug && strings.HasPrefix(m.Text, exitMarker):
			code, _ := strconv.Atoi(strings.TrimPrefix(m.Text, exitMarker))
			if exceptions > 0 {
				fmt.Fprintf(os.Stderr, "wasmrun: %d uncaught JavaScript exception(s) during the run\n", exceptions)
				if code == 0 {
					code = 1
				}
			}
			return code, nil
		case m.IsException():
			exceptions++
			fmt.Fprintf(os.Stderr, "wasmrun: uncaught JavaScript exception: %s\n", exceptionText(m))
		case m.Source != "": // the browser's own log, e.g. failed resource loads
			if verbose {
				fmt.Fprintf(os.Stderr, "browser %s: %s\n", m.Source, m.Text)
			}
		default:
			fmt.Println(m.Text)
		}
	}
	return 1, ctx.Err()
}

func exceptionText(m chromedp.ConsoleMessage) string {
	if m.Exception != nil {
		return (&chromedp.ExceptionError{ExceptionDetails: m.Exception}).Error()
	}
	return m.Text
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
