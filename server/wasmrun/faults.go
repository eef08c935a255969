//go:build !js

package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/cometwasm/comet/server/internal/faultproxy"
)

// startFaultProxy opens the fault proxy behind COMET_FAULTY_SERVER. Per
// connection: 10% dropped, 45% reset and 45% truncated after 0–32 KiB from
// the server; 10% of chunks delayed up to 20 ms.
func startFaultProxy() (*faultproxy.Proxy, error) {
	seed := uint64(1)
	if v := os.Getenv("COMET_FAULT_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("COMET_FAULT_SEED=%q: %w", v, err)
		}
		seed = n
	}
	cfg := faultproxy.Config{
		Seed:        seed,
		Drop:        0.10,
		Reset:       0.45,
		Truncate:    0.45,
		Delay:       0.10,
		MaxDelay:    20 * time.Millisecond,
		MaxCutBytes: 32 << 10,
	}
	if os.Getenv("COMET_FAULTS") == "off" { // to tell a fault from a bug
		cfg.Drop, cfg.Reset, cfg.Truncate, cfg.Delay = 0, 0, 0, 0
	}
	return faultproxy.Listen(cfg)
}

// reportFaults prints the proxy's figures if a test used it.
func reportFaults(p *faultproxy.Proxy) {
	if st := p.Stats(); st.Conns > 0 {
		fmt.Fprintf(os.Stderr, "faultproxy: seed %s: %v (cut %d)\n", orDefault(os.Getenv("COMET_FAULT_SEED"), "1"), st, st.Cuts())
	}
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// serveFaultStats serves the proxy's figures as JSON at a loopback URL
// (COMET_FAULT_STATS), so a test can report the cuts it went through.
func serveFaultStats(p *faultproxy.Proxy) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			st := p.Stats()
			w.Header().Set("Access-Control-Allow-Origin", "*") // test-only, no credentials
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]int{
				"conns": st.Conns, "dropped": st.Dropped, "reset": st.Reset,
				"truncated": st.Truncated, "delays": st.Delays, "cuts": st.Cuts(),
			})
		}),
	}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}
