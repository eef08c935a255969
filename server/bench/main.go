//go:build !js

// Command bench runs comet's benchmarks and writes the report:
//
//	go run ./server/bench -out server/bench/REPORT.md
//
// Sections: wasm sizes; browser throughput (Go wasm vs plain JavaScript vs
// coder/websocket, in one headless Chromium page against one server); wire
// cost per delivered message, counted by a TCP proxy in front of the
// server; publish → Go handler latency; server capacity over loopback;
// and many nodes (publish throughput and fan-out to 10,000 subscribers,
// the in-memory broker beside Redis on 1 and 3 nodes). Every figure is a median of -runs runs; every ratio is taken
// within one run. The whole run is bounded (each part has a deadline) and
// stops by itself.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// bench holds one run's settings and shared state.
type bench struct {
	root       string // module root
	work       string // temp folder, removed at the end
	serverBin  string
	runs       int
	capN       int
	peerN      int // WS and SSE subscribers held in the peer section
	caseFilter string
	report     *report
	shared     *env // browser, wire and latency sections
}

func run() error {
	out := flag.String("out", "", "write the markdown report here (default: stdout)")
	runs := flag.Int("runs", 3, "runs per figure (median)")
	only := flag.String("only", "size,browser,wire,latency,capacity,peer,findings,nodes", "sections to run, comma separated")
	capN := flag.Int("n", 10000, "connections per kind in the capacity section")
	peerN := flag.Int("peer-n", 5000, "WS and SSE subscribers per system in the peer section")
	caseFilter := flag.String("case", "", "browser and latency sections: only cases (latency: transports) whose title contains this (or one of its |-separated parts)")
	flag.Parse()
	if *runs < 1 {
		return errors.New("-runs must be ≥ 1")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 14*time.Minute)
	defer cancel()

	root, err := moduleRoot()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "comet-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	raiseFileLimit()

	b := &bench{root: root, work: work, runs: *runs, capN: *capN, peerN: *peerN, caseFilter: *caseFilter, report: newReport()}
	b.serverBin = filepath.Join(work, "comet-server")
	logf("building the server")
	if err := goBuild(ctx, root, nil, b.serverBin, "./server"); err != nil {
		return err
	}

	sections := []struct {
		key, title string
		run        func(context.Context, *section) error
	}{
		{"size", "1. wasm size", b.sizes},
		{"browser", "2. Browser throughput (headless Chromium)", b.browser},
		{"wire", "3. Cost per delivered message on the wire", b.wire},
		{"latency", "4. Latency: publish → Go handler in the browser", b.latency},
		{"capacity", "5. Server capacity over loopback", b.capacity},
		{"peer", "6. The server against Centrifugo (peer)", b.peer},
		{"findings", "7. Profiling findings and proposed fixes", b.findings},
		{"nodes", "8. Many nodes: publish throughput and fan-out, memory and Redis brokers", b.nodes},
	}
	want := map[string]bool{}
	for _, k := range strings.Split(*only, ",") {
		want[strings.TrimSpace(k)] = true
	}
	start := time.Now()
	for _, s := range sections {
		if !want[s.key] {
			continue
		}
		sec := b.report.section(s.title)
		logf("section %s", s.key)
		t := time.Now()
		loadStart := loadAvg()
		if err := s.run(ctx, sec); err != nil {
			logf("section %s: %v", s.key, err)
			sec.printf("\n**Section failed:** `%v`\n", err)
		}
		sec.printf("\n_Section time: %s; load average (1 min) %s at its start, %s at its end, on %d CPUs._\n", time.Since(t).Round(time.Second), loadStart, loadAvg(), runtime.NumCPU())
	}
	b.closeEnv()
	b.report.total = time.Since(start)
	md := b.report.markdown()
	if *out == "" {
		fmt.Print(md)
		return nil
	}
	return os.WriteFile(*out, []byte(md), 0o644)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// loadAvg is the 1-minute load average: the machine is shared, so the
// report says how busy it was.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

// moduleRoot is the folder of go.mod: $COMET_ROOT, else found upward from
// the working directory.
func moduleRoot() (string, error) {
	if r := os.Getenv("COMET_ROOT"); r != "" {
		return r, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found: run from the repository")
		}
		dir = parent
	}
}

// goBuild runs go build; env adds GOOS/GOARCH and the like.
func goBuild(ctx context.Context, root string, env []string, out string, pkg string, flags ...string) error {
	args := append([]string{"build"}, flags...)
	args = append(args, "-o", out, pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

var wasmEnv = []string{"GOOS=js", "GOARCH=wasm"}

// raiseFileLimit lifts the soft fd limit to the hard one; children (the
// server) inherit it.
func raiseFileLimit() {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) != nil {
		return
	}
	lim.Cur = lim.Max
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}

// fileLimit is the hard fd limit of this process.
func fileLimit() uint64 {
	var lim syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	return lim.Max
}
