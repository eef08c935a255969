//go:build !js

// Command wasmrun runs a GOOS=js test binary against a fresh comet server,
// in node or in headless Chromium. It is the -exec program of go test:
//
//	WASMRUN_ENV=chromium COMET_SERVER_BIN=/tmp/comet-server \
//	  GOOS=js GOARCH=wasm go test -exec /tmp/wasmrun ./wasm/...
//
// For each test binary it starts the server binary on two loopback ports
// (the page's origin and a second origin) with -test-hooks, and passes them
// to the test as COMET_SERVER and COMET_SERVER2; COMET_ENV says where the
// test runs.
//
//   - node: node 20 with the npm packages ws, eventsource and xhr2 installed
//     as globals (node/setup.js) before wasm_exec_node.js starts.
//   - chromium: the server serves a page, the test binary and wasm_exec.js
//     from a temp folder, so the test runs on the server's own origin.
//     Console output goes to stdout; an uncaught exception fails the run.
//
// COMET_FAULTY_SERVER is a test-only fault proxy (server/internal/faultproxy)
// in front of the page's origin: it drops, delays, truncates and resets
// connections at random, seeded by COMET_FAULT_SEED (default 1). It is
// another origin, so the server is started with -allow-origin for it: the
// page's CSP lets the test connect there, and requests through it carry
// the page's Origin, which CORS and WebSocket Accept trust. The test page
// itself never goes through the proxy. Its figures are served as JSON at
// COMET_FAULT_STATS, and printed at the end when a test used it.
//
// COMET_INTEROP_* are servers built on other libraries (go-httpbin,
// gorilla/websocket, go-sse), each on its own loopback port, and a port
// nothing listens on: see interop.go. The page's CSP allows them.
//
// COMET_TOKEN_SERVER is a second comet server with -token-secret-file (a
// random key) and the demo's topic rules, for the test binaries in
// tokenPackages (wasm/comet) or any with WASMRUN_TOKENS=1: tests sign in
// through its POST /demo/token. The page's origin allows it (CSP, CORS).
//
// The exit code is the test binary's.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/cometwasm/comet/server/internal/loopback"
	"github.com/cometwasm/comet/server/internal/serverproc"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: wasmrun test.wasm [test flags]  (env WASMRUN_ENV=node|chromium, COMET_SERVER_BIN)")
		os.Exit(2)
	}
	code, err := run(os.Args[1], os.Args[2:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "wasmrun:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func run(wasmFile string, args []string) (int, error) {
	env := os.Getenv("WASMRUN_ENV")
	if env == "" {
		env = "node"
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	work, err := os.MkdirTemp("", "comet-wasmrun-")
	if err != nil {
		return 1, err
	}
	defer os.RemoveAll(work)

	publicDir := filepath.Join(work, "public")
	if err := os.Mkdir(publicDir, 0o755); err != nil {
		return 1, err
	}
	proxy, err := startFaultProxy()
	if err != nil {
		return 1, err
	}
	defer proxy.Close()
	statsURL, stopStats, err := serveFaultStats(proxy)
	if err != nil {
		return 1, err
	}
	defer stopStats()
	interop, err := startInterop()
	if err != nil {
		return 1, err
	}
	defer interop.Close()
	// A short presence TTL: tests see a poller that stops leave within 4s.
	flags := []string{"-allow-origin", proxy.URL(), "-allow-origin", statsURL, "-presence-ttl", "3s"}
	for _, o := range interop.origins() {
		flags = append(flags, "-allow-origin", o)
	}
	tokenAddr := ""
	if wantsTokens(wasmFile) { // the page's CSP and CORS must know the token server's origin
		if tokenAddr, err = freePort(); err != nil {
			return 1, err
		}
		flags = append(flags, "-allow-origin", "http://"+tokenAddr)
	}
	srv, err := startServer(ctx, publicDir, filepath.Join(work, "data"), flags...)
	if err != nil {
		return 1, err
	}
	defer srv.Stop()
	proxy.Serve(strings.TrimPrefix(srv.Page, "http://"))
	defer reportFaults(proxy)

	testEnv := []string{
		"COMET_SERVER=" + srv.Page,
		"COMET_SERVER2=" + srv.Second,
		"COMET_FAULTY_SERVER=" + proxy.URL(),
		"COMET_FAULT_STATS=" + statsURL,
		"COMET_ENV=" + env,
	}
	testEnv = append(testEnv, interop.env()...)
	if tokenAddr != "" {
		tsrv, err := startTokenServer(ctx, work, publicDir, tokenAddr, srv.Page)
		if err != nil {
			return 1, err
		}
		defer tsrv.Stop()
		testEnv = append(testEnv, "COMET_TOKEN_SERVER="+tsrv.Page)
	}
	switch env {
	case "node":
		return runNode(ctx, wasmFile, args, testEnv)
	case "chromium":
		return runChromium(ctx, wasmFile, args, testEnv, publicDir, srv.Page)
	default:
		return 2, fmt.Errorf("WASMRUN_ENV=%q: want node or chromium", env)
	}
}

// startServer runs $COMET_SERVER_BIN with the test hooks on, serving
// publicDir, and waits until it listens.
func startServer(ctx context.Context, publicDir, dataDir string, extra ...string) (*serverproc.Proc, error) {
	bin := os.Getenv("COMET_SERVER_BIN")
	if bin == "" {
		return nil, errors.New("COMET_SERVER_BIN is not set: build the server (go build -o BIN ./server) and point it there")
	}
	return serverproc.Start(ctx, bin, serverLog(), append([]string{"-public", publicDir, "-data", dataDir, "-test-hooks"}, extra...)...)
}

// tokenPackages are the test binaries that get a second server with
// tokens on (COMET_TOKEN_SERVER); WASMRUN_TOKENS=1 gives one to any.
var tokenPackages = map[string]bool{"comet.test": true}

func wantsTokens(wasmFile string) bool {
	return os.Getenv("WASMRUN_TOKENS") == "1" || tokenPackages[filepath.Base(wasmFile)]
}

// startTokenServer runs a second server with -token-secret-file (a random
// key in work) and the demo's topic rules, so tests sign in through POST
// /demo/token. page is allowed as an origin.
func startTokenServer(ctx context.Context, work, publicDir, addr, page string) (*serverproc.Proc, error) {
	key := make([]byte, 32)
	rand.Read(key)
	keyFile := filepath.Join(work, "token.key")
	if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(key)), 0o600); err != nil {
		return nil, err
	}
	return startServer(ctx, publicDir, filepath.Join(work, "data-tokens"), "-addr", addr, "-token-secret-file", keyFile, "-allow-origin", page)
}

// freePort returns a loopback address nothing listens on now.
func freePort() (string, error) {
	port, err := loopback.FreePort()
	return "127.0.0.1:" + strconv.Itoa(port), err
}

// serverLog is where the server's log goes: stderr with WASMRUN_VERBOSE,
// else nowhere, so test output stays readable.
func serverLog() io.Writer {
	if os.Getenv("WASMRUN_VERBOSE") != "" {
		return os.Stderr
	}
	return nil
}

func runNode(ctx context.Context, wasmFile string, args, testEnv []string) (int, error) {
	nodeDir, err := harnessDir("node")
	if err != nil {
		return 1, err
	}
	if _, err := os.Stat(filepath.Join(nodeDir, "node_modules", "ws")); err != nil {
		return 1, fmt.Errorf("npm packages missing in %s: run npm ci there (./build.sh test does)", nodeDir)
	}
	wasmLib, err := goWasmLib()
	if err != nil {
		return 1, err
	}
	execJS := filepath.Join(wasmLib, "wasm_exec_node.js")
	nodeArgs := append([]string{"--stack-size=8192", "--require", filepath.Join(nodeDir, "setup.js"), execJS, wasmFile}, args...)
	cmd := exec.CommandContext(ctx, "node", nodeArgs...)
	cmd.Env = append(os.Environ(), testEnv...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), nil
	}
	return 0, err
}

// goWasmLib returns $(go env GOROOT)/lib/wasm.
func goWasmLib() (string, error) {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOROOT: %w", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "lib", "wasm"), nil
}

// harnessDir finds a folder of this program's sources (node/ or page/):
// beside the source file when built from the module, else under
// $COMET_ROOT/server/wasmrun.
func harnessDir(name string) (string, error) {
	var candidates []string
	if root := os.Getenv("COMET_ROOT"); root != "" {
		candidates = append(candidates, filepath.Join(root, "server", "wasmrun", name))
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		candidates = append(candidates, filepath.Join(filepath.Dir(file), name))
	}
	for _, c := range candidates {
		if st, err := os.Stat(c); err == nil && st.IsDir() {
			return c, nil
		}
	}
	return "", fmt.Errorf("cannot find server/wasmrun/%s: set COMET_ROOT to the repository", name)
}
