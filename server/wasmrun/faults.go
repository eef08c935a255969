//go:build !js

package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/cometwasm/comet/server/internal/faultproxy"
)

// startFaultProxy opens the fault proxy behind COMET_FAULTY_SERVER. Per
// connection: 10% dropped, 15% reset and 15% truncated after 0–8 KiB from
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
	return faultproxy.Listen(faultproxy.Config{
		Seed:        seed,
		Drop:        0.10,
		Reset:       0.15,
		Truncate:    0.15,
		Delay:       0.10,
		MaxDelay:    20 * time.Millisecond,
		MaxCutBytes: 8 << 10,
	})
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
