//go:build !js

// Package serverproc runs a built comet server binary on two free loopback
// ports, for the wasm test harness (server/wasmrun) and the benchmarks
// (server/bench). Use Start to run one and Proc.Stop to end it by its PID.
package serverproc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"syscall"
	"time"
)

// Proc is one server process this program started.
type Proc struct {
	// Page and Second are the two origins, e.g. "http://127.0.0.1:41234".
	Page, Second string

	cmd  *exec.Cmd
	done chan struct{}
}

// servingLine is the line the server prints once it listens (server/main.go).
var servingLine = regexp.MustCompile(`^comet: serving (\S+) \(second origin (\S+)\)`)

// Start runs bin with -addr and -addr2 on free loopback ports plus args,
// and waits up to 30s for the line that names its origins. The server's
// log goes to stderr (nil discards it).
func Start(ctx context.Context, bin string, stderr io.Writer, args ...string) (*Proc, error) {
	cmd := exec.CommandContext(ctx, bin, append([]string{"-addr", "127.0.0.1:0", "-addr2", "127.0.0.1:0"}, args...)...)
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	p := &Proc{cmd: cmd, done: make(chan struct{})}
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
	go func() { cmd.Wait(); close(p.done) }()
	select {
	case m := <-found:
		p.Page, p.Second = m[1], m[2]
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("server %s exited before serving", bin)
	case <-time.After(30 * time.Second):
		p.Stop()
		return nil, errors.New("server did not start within 30s")
	}
}

// PID returns the server's process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Stop ends the server by its PID: SIGTERM, then SIGKILL after 5s.
func (p *Proc) Stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// Kill ends the server at once by its PID with SIGKILL, as a crash would:
// no graceful shutdown, open connections reset.
func (p *Proc) Kill() {
	p.cmd.Process.Kill()
	<-p.done
}
