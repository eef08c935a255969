//go:build !js

// Command server is comet's demo and test server: the page, the wasm, and
// every endpoint the wasm packages talk to (XHR, CORS, JSONP, beacon,
// upload, SSE, polling, long polling, HTTP streaming and WebSocket).
//
// It listens on two loopback ports. The first serves the page; the second
// serves the same API under another origin, for the CORS, JSONP and
// postMessage demos.
//
//	go run ./server -addr 127.0.0.1:8080 -addr2 127.0.0.1:8081
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

// run parses flags, listens, serves until SIGINT or SIGTERM, then shuts
// down gracefully.
func run(args []string) error {
	cfg := defaultConfig()
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "address of the page's origin (loopback only)")
	addr2 := fs.String("addr2", "127.0.0.1:8081", "address of the second origin serving the same API; empty disables it")
	cfg.registerFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger := log.New(os.Stderr, "comet: ", log.LstdFlags|log.Lmsgprefix)

	ln, err := listenLoopback(*addr)
	if err != nil {
		return err
	}
	listeners := []net.Listener{ln}
	cfg.PageOrigin = "http://" + ln.Addr().String()
	if *addr2 != "" {
		ln2, err := listenLoopback(*addr2)
		if err != nil {
			ln.Close()
			return err
		}
		listeners = append(listeners, ln2)
		cfg.SecondOrigin = "http://" + ln2.Addr().String()
	}

	// A listener named "localhost" is reached under that name too: its
	// page origin and Host are own ones (every other name gets 421).
	for i, a := range []string{*addr, *addr2} {
		if host, _, err := net.SplitHostPort(a); err == nil && host == "localhost" && i < len(listeners) {
			_, port, _ := net.SplitHostPort(listeners[i].Addr().String())
			cfg.AllowHosts = append(cfg.AllowHosts, "localhost:"+port)
			cfg.AllowOrigins = append(cfg.AllowOrigins, "http://localhost:"+port)
		}
	}
	srv, err := newServer(cfg, logger.Printf)
	if err != nil {
		return err
	}
	defer srv.Close()

	errc := make(chan error, len(listeners))
	var servers []*http.Server
	for _, l := range listeners {
		hs := srv.httpServer(logger)
		servers = append(servers, hs)
		go func() { errc <- hs.Serve(l) }()
	}
	// One machine-readable line: tests and build.sh read the URLs from it.
	fmt.Printf("comet: serving %s (second origin %s)\n", cfg.PageOrigin, orNone(cfg.SecondOrigin))

	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigc)
	select {
	case err := <-errc:
		return err
	case sig := <-sigc:
		logger.Printf("%v: shutting down", sig)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Close() // ends streams so Shutdown need not wait for them
	for _, hs := range servers {
		if err := hs.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	return nil
}

// listenLoopback refuses any address that is not on the loopback interface.
func listenLoopback(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("address %q: comet listens on loopback only (127.0.0.1 or [::1])", addr)
	}
	return net.Listen("tcp", addr)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
