//go:build !js

// Command server is comet's demo and test server: the page, the wasm, and
// every endpoint the wasm packages talk to (XHR, CORS, JSONP, beacon,
// upload, SSE, polling, long polling, HTTP streaming and WebSocket).
//
// It listens on two ports. The first serves the page; the second serves the
// same API under another origin, for the CORS, JSONP and postMessage demos.
// It listens on whatever address it is given; with -tls-cert and -tls-key
// it serves HTTPS (and so HTTP/2), and behind a reverse proxy -public-origin
// names the origin browsers see:
//
//	go run ./server -addr 127.0.0.1:8080 -addr2 127.0.0.1:8081
//	go run ./server -addr :443 -addr2 "" -tls-cert cert.pem -tls-key key.pem
//	go run ./server -addr node1.internal:8080 -addr2 "" -public-origin https://app.example
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cometwasm/comet/server/internal/httpx"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

// run parses flags, listens, prints the serving line to stdout, serves
// until ctx is done (SIGINT or SIGTERM), then shuts down gracefully.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	cfg := defaultConfig()
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "address of the page's origin, e.g. :8080 for every interface")
	addr2 := fs.String("addr2", "127.0.0.1:8081", "address of the second origin serving the same API; empty disables it")
	tlsCert := fs.String("tls-cert", "", "PEM certificate chain: serve HTTPS (HTTP/2) with -tls-key")
	tlsKey := fs.String("tls-key", "", "PEM private key of -tls-cert")
	publicOrigin := fs.String("public-origin", "", "origin browsers use behind a reverse proxy, e.g. https://app.example: trusted, and the page's origin")
	cfg.registerFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return errors.New("-tls-cert and -tls-key go together")
	}
	scheme := "http"
	if *tlsCert != "" {
		scheme = "https"
		// Fail now, not at the first handshake.
		if _, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey); err != nil {
			return fmt.Errorf("-tls-cert/-tls-key: %w", err)
		}
	}
	if *publicOrigin != "" {
		o, err := httpx.ParseOrigin(*publicOrigin)
		if err != nil {
			return fmt.Errorf("-public-origin: %w", err)
		}
		*publicOrigin = o
	}
	logger := log.New(os.Stderr, "comet: ", log.LstdFlags|log.Lmsgprefix)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	listeners := []net.Listener{ln}
	listenURL := scheme + "://" + ln.Addr().String()
	cfg.PageOrigin = listenURL
	if *publicOrigin != "" {
		// Behind a proxy the page is served from the public origin; the
		// listener's own origin stays trusted for direct checks.
		cfg.PageOrigin = *publicOrigin
		cfg.AllowOrigins = append(cfg.AllowOrigins, listenURL)
	}
	if *addr2 != "" {
		ln2, err := net.Listen("tcp", *addr2)
		if err != nil {
			ln.Close()
			return err
		}
		listeners = append(listeners, ln2)
		cfg.SecondOrigin = scheme + "://" + ln2.Addr().String()
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
		go func() {
			if *tlsCert != "" {
				errc <- hs.ServeTLS(l, *tlsCert, *tlsKey) // HTTP/2 by ALPN
			} else {
				errc <- hs.Serve(l)
			}
		}()
	}
	// One machine-readable line: tests and build.sh read the URLs from it.
	fmt.Fprintf(stdout, "comet: serving %s (second origin %s)\n", listenURL, orNone(cfg.SecondOrigin))
	if *publicOrigin != "" {
		fmt.Fprintf(stdout, "comet: public origin %s\n", *publicOrigin)
	}

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		logger.Printf("%v: shutting down", context.Cause(ctx))
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Close() // ends streams so Shutdown need not wait for them
	for _, hs := range servers {
		if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
