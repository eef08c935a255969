//go:build !js

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/cometwasm/comet/server/internal/serverproc"
)

// startServer runs the server binary with args added (e.g. -public DIR)
// and a data folder in the work dir.
func (b *bench) startServer(ctx context.Context, args ...string) (*serverproc.Proc, error) {
	var stderr io.Writer
	if os.Getenv("BENCH_VERBOSE") != "" {
		stderr = os.Stderr
	}
	return serverproc.Start(ctx, b.serverBin, stderr, append([]string{"-data", b.work + "/data"}, args...)...)
}

// rss is the server's resident memory in bytes (VmRSS).
func rss(p *serverproc.Proc) (int64, error) { return procStatus(p.PID(), "VmRSS:") }

// procStatus reads one numeric field of /proc/PID/status, in bytes for kB.
func procStatus(pid int, key string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, key) {
			f := strings.Fields(l)
			n, err := strconv.ParseInt(f[1], 10, 64)
			if len(f) > 2 && f[2] == "kB" {
				n *= 1024
			}
			return n, err
		}
	}
	return 0, fmt.Errorf("%s not in /proc/%d/status", key, pid)
}

func commandOutput(ctx context.Context, name string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, name, args...).Output()
	return string(out), err
}
