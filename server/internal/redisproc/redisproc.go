//go:build !js

package redisproc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cometwasm/comet/server/internal/loopback"
)

// ErrNotInstalled says redis-server is not on the PATH.
var ErrNotInstalled = errors.New("redisproc: redis-server is not installed (Debian: apt-get install redis-server)")

// Config says how to run redis-server.
type Config struct {
	// AppendOnly turns the append-only file on (--appendonly yes).
	// Defaults to off: nothing survives a restart.
	AppendOnly bool
	// Fsync is --appendfsync: "always", "everysec" or "no". Defaults to
	// "everysec", Redis's own default.
	Fsync string
	// Args are more redis-server arguments, e.g. "--maxmemory", "10mb".
	Args []string
	// StartTimeout bounds the wait for the server to answer PING. Defaults
	// to 15s.
	StartTimeout time.Duration
}

// Server is one redis-server this process started.
type Server struct {
	// Addr is "127.0.0.1:PORT".
	Addr string
	// Dir holds the server's data and its log (redis.log).
	Dir string

	cfg  Config
	cmd  *exec.Cmd
	done chan struct{}
}

// URL returns the server's address as redis://127.0.0.1:PORT/DB.
func (s *Server) URL(db int) string { return "redis://" + s.Addr + "/" + strconv.Itoa(db) }

// Start runs redis-server in a new temporary directory and waits until it
// answers PING.
func Start(cfg Config) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, ErrNotInstalled
	}
	if cfg.Fsync == "" {
		cfg.Fsync = "everysec"
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 15 * time.Second
	}
	dir, err := os.MkdirTemp("", "redisproc-")
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, cfg: cfg}
	for try := 0; ; try++ {
		port, err := loopback.FreePort()
		if err == nil {
			s.Addr = "127.0.0.1:" + strconv.Itoa(port)
			if err = s.run(bin); err == nil {
				return s, nil
			}
		}
		if try == 2 {
			os.RemoveAll(dir)
			return nil, err
		}
	}
}

// ForTest starts a server for t and ends it when t ends. Without
// redis-server it skips t, or fails it when the CI variable is set.
func ForTest(t testing.TB, cfg Config) *Server {
	t.Helper()
	s, err := Start(cfg)
	if errors.Is(err, ErrNotInstalled) && os.Getenv("CI") == "" {
		t.Skip(err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func (s *Server) run(bin string) error {
	_, port, _ := net.SplitHostPort(s.Addr)
	aof := "no"
	if s.cfg.AppendOnly {
		aof = "yes"
	}
	args := append([]string{
		"--port", port, "--bind", "127.0.0.1", "--dir", s.Dir,
		"--save", "", "--appendonly", aof, "--appendfsync", s.cfg.Fsync,
		"--daemonize", "no", "--logfile", filepath.Join(s.Dir, "redis.log"),
	}, s.cfg.Args...)
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redisproc: starting redis-server: %w", err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	done := s.done
	go func() { cmd.Wait(); close(done) }()
	deadline := time.Now().Add(s.cfg.StartTimeout)
	for {
		if err := Ping(s.Addr, time.Second); err == nil {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("redisproc: redis-server exited at start (%s): %s", s.Addr, s.logTail())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Kill()
			return fmt.Errorf("redisproc: redis-server did not answer within %v: %s", s.cfg.StartTimeout, s.logTail())
		}
	}
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "redis.log"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, " | ")
}

// Ping sends PING to addr and reports whether it answered PONG (a server
// still loading its data answers -LOADING, an error here).
func Ping(addr string, timeout time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("redisproc: PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

// PID returns the server's process id, 0 when it is not running.
func (s *Server) PID() int {
	if !s.Running() {
		return 0
	}
	return s.cmd.Process.Pid
}

// Running reports whether the server process is alive.
func (s *Server) Running() bool {
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// Kill ends the server at once with SIGKILL: what the append-only file has
// not written to disk yet is lost.
func (s *Server) Kill() {
	if s.Running() {
		s.cmd.Process.Signal(syscall.SIGKILL)
		<-s.done
	}
}

// Stop ends the server with SIGTERM, as an operator would: Redis flushes
// its append-only file and exits. After 10s it is killed.
func (s *Server) Stop() {
	if !s.Running() {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.Kill()
	}
}

// Pause stops the server with SIGSTOP: connections stay open but nothing
// answers, as with a hung or partitioned server. Resume continues it.
func (s *Server) Pause() {
	if s.Running() {
		s.cmd.Process.Signal(syscall.SIGSTOP)
	}
}

// Resume continues a paused server.
func (s *Server) Resume() {
	if s.Running() {
		s.cmd.Process.Signal(syscall.SIGCONT)
	}
}

// Restart starts the server again on the same port and directory (it stops
// it first if it runs). With AppendOnly it reloads its data.
func (s *Server) Restart() error {
	s.Stop()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return ErrNotInstalled
	}
	var last error
	for range 50 { // the old socket may linger a moment
		if last = s.run(bin); last == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return last
}

// Do sends one command to the server and returns its first reply line, for
// tests (e.g. Do(ctx, "FLUSHALL")).
func (s *Server) Do(ctx context.Context, args ...string) (string, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	} else {
		c.SetDeadline(time.Now().Add(10 * time.Second))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSpace(line)
	if strings.HasPrefix(line, "-") {
		return line, fmt.Errorf("redisproc: %s", line[1:])
	}
	return line, nil
}

// Close ends the server and removes its directory.
func (s *Server) Close() {
	s.Resume()
	s.Kill()
	os.RemoveAll(s.Dir)
}
