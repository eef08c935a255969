//go:build !js

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// serverProc is one comet server process this program started.
type serverProc struct {
	cmd          *exec.Cmd
	page, second string
	done         chan struct{}
}

var servingLine = regexp.MustCompile(`^comet: serving (\S+) \(second origin (\S+)\)`)

// startServer runs the server binary on loopback ports with args added
// (e.g. -public DIR) and waits for the line that names its URLs.
func (b *bench) startServer(ctx context.Context, args ...string) (*serverProc, error) {
	all := append([]string{"-addr", "127.0.0.1:0", "-addr2", "127.0.0.1:0", "-data", b.work + "/data"}, args...)
	cmd := exec.CommandContext(ctx, b.serverBin, all...)
	if os.Getenv("BENCH_VERBOSE") != "" {
		cmd.Stderr = os.Stderr
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &serverProc{cmd: cmd, done: make(chan struct{})}
	found := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() { cmd.Wait(); close(s.done) }()
	select {
	case m := <-found:
		s.page, s.second = m[1], m[2]
		return s, nil
	case <-s.done:
		return nil, errors.New("server exited before serving")
	case <-time.After(30 * time.Second):
		s.stop()
		return nil, errors.New("server did not start within 30s")
	}
}

// stop ends the server by its PID.
func (s *serverProc) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// rss is the server's resident memory in bytes (VmRSS).
func (s *serverProc) rss() (int64, error) { return procStatus(s.cmd.Process.Pid, "VmRSS:") }

// threads is the server's thread count.
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
