//go:build !js

package nginxproc

import (
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

// ErrNotInstalled says nginx is not on the PATH.
var ErrNotInstalled = errors.New("nginxproc: nginx is not installed (Debian: apt-get install nginx-light)")

// Config says what nginx proxies.
type Config struct {
	// Upstreams are the comet nodes, "127.0.0.1:PORT" each. Required.
	Upstreams []string
	// ReadTimeout is proxy_read_timeout and proxy_send_timeout: it must
	// exceed the long-poll timeout (25s) and the heartbeat (15s), or nginx
	// cuts idle streams. Defaults to 60s.
	ReadTimeout time.Duration
	// FailTimeout is the upstream's fail_timeout: how long a node that
	// refused a connection is left out. Defaults to 1s.
	FailTimeout time.Duration
	// StartTimeout bounds the wait for nginx to accept connections.
	// Defaults to 15s.
	StartTimeout time.Duration
}

// Server is one nginx this process started.
type Server struct {
	// Addr is "127.0.0.1:PORT".
	Addr string
	// Dir holds nginx.conf, nginx.pid, error.log, access.log and temp files.
	Dir string

	cmd  *exec.Cmd
	done chan struct{}
}

// URL returns "http://127.0.0.1:PORT".
func (s *Server) URL() string { return "http://" + s.Addr }

// AccessLog returns the path of the access log: one line per finished
// request, "TIME STATUS METHOD URI UPSTREAM".
func (s *Server) AccessLog() string { return filepath.Join(s.Dir, "access.log") }

// Conf returns nginx.conf for cfg, listening on listen, with its pid file,
// logs and temp files in dir.
func Conf(cfg Config, listen, dir string) string {
	cfg = withDefaults(cfg)
	secs := func(d time.Duration) string { return strconv.Itoa(int(d.Round(time.Second)/time.Second)) + "s" }
	var up strings.Builder
	for _, a := range cfg.Upstreams {
		fmt.Fprintf(&up, "\t\tserver %s max_fails=1 fail_timeout=%s;\n", a, secs(cfg.FailTimeout))
	}
	p := func(name string) string { return filepath.Join(dir, name) }
	return `worker_processes 1;
pid ` + p("nginx.pid") + `;
error_log ` + p("error.log") + ` warn;
events { worker_connections 16384; }
http {
	log_format comet '$msec $status $request_method $request_uri $upstream_addr';
	access_log ` + p("access.log") + ` comet;
	client_body_temp_path ` + p("tmp/body") + `;
	proxy_temp_path ` + p("tmp/proxy") + `;
	fastcgi_temp_path ` + p("tmp/fastcgi") + `;
	uwsgi_temp_path ` + p("tmp/uwsgi") + `;
	scgi_temp_path ` + p("tmp/scgi") + `;

	# WebSocket: pass the upgrade on; other requests close the upstream connection.
	map $http_upgrade $connection_upgrade {
		default upgrade;
		''      close;
	}
	upstream comet {
` + up.String() + `	}
	server {
		listen ` + listen + `;
		location / {
			proxy_pass http://comet;
			proxy_http_version 1.1;
			proxy_set_header Upgrade $http_upgrade;
			proxy_set_header Connection $connection_upgrade;
			proxy_set_header Host $http_host;
			proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
			proxy_set_header X-Forwarded-Proto $scheme;
			# Streams (SSE, HTTP streaming, long polls) pass through as written.
			proxy_buffering off;
			proxy_request_buffering off;
			# Above the long-poll timeout (25s) and the heartbeat (15s).
			proxy_read_timeout ` + secs(cfg.ReadTimeout) + `;
			proxy_send_timeout ` + secs(cfg.ReadTimeout) + `;
		}
	}
}
`
}

func withDefaults(cfg Config) Config {
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = 60 * time.Second
	}
	if cfg.FailTimeout <= 0 {
		cfg.FailTimeout = time.Second
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 15 * time.Second
	}
	return cfg
}

// Start writes the config and runs nginx on a free loopback port until
// Stop.
func Start(cfg Config) (*Server, error) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		bin, err = exec.LookPath("/usr/sbin/nginx") // not on a user's PATH in Debian
	}
	if err != nil {
		return nil, ErrNotInstalled
	}
	if len(cfg.Upstreams) == 0 {
		return nil, errors.New("nginxproc: no upstreams")
	}
	cfg = withDefaults(cfg)
	dir, err := os.MkdirTemp("", "nginxproc-")
	if err != nil {
		return nil, err
	}
	// Workers may run as nobody (when started as root): they need the
	// folder and its temp files.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o777); err != nil {
		return nil, err
	}
	os.Chmod(filepath.Join(dir, "tmp"), 0o777)
	var last error
	for range 3 { // the free port may be taken before nginx binds it
		port, err := loopback.FreePort()
		if err != nil {
			return nil, err
		}
		s := &Server{Addr: "127.0.0.1:" + strconv.Itoa(port), Dir: dir}
		if last = s.run(bin, cfg); last == nil {
			return s, nil
		}
	}
	os.RemoveAll(dir)
	return nil, last
}

// ForTest starts nginx for t and stops it when t ends. Without nginx it
// skips t, or fails it when the CI variable is set.
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

func (s *Server) run(bin string, cfg Config) error {
	conf := filepath.Join(s.Dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(Conf(cfg, s.Addr, s.Dir)), 0o644); err != nil {
		return err
	}
	cmd := exec.Command(bin, "-p", s.Dir, "-c", conf, "-e", filepath.Join(s.Dir, "error.log"), "-g", "daemon off;")
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("nginxproc: starting nginx: %w", err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	done := s.done
	go func() { cmd.Wait(); close(done) }()
	deadline := time.Now().Add(cfg.StartTimeout)
	for {
		if c, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("nginxproc: nginx exited at start (%s): %s", s.Addr, s.ErrorLog())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return fmt.Errorf("nginxproc: nginx did not listen within %v: %s", cfg.StartTimeout, s.ErrorLog())
		}
	}
}

// ErrorLog returns the last lines of nginx's error log.
func (s *Server) ErrorLog() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "error.log"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, " | ")
}

// PID returns the nginx master's process id.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Stop ends nginx by its master's PID: SIGQUIT (graceful), then SIGTERM
// after 2s (fast: closes open streams), then SIGKILL after 5s more. The
// master ends its workers.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	for _, step := range []struct {
		sig  syscall.Signal
		wait time.Duration
	}{{syscall.SIGQUIT, 2 * time.Second}, {syscall.SIGTERM, 5 * time.Second}, {syscall.SIGKILL, time.Minute}} {
		select {
		case <-s.done:
			return
		default:
		}
		s.cmd.Process.Signal(step.sig)
		select {
		case <-s.done:
			return
		case <-time.After(step.wait):
		}
	}
}

// Close stops nginx and removes its folder.
func (s *Server) Close() {
	s.Stop()
	os.RemoveAll(s.Dir)
}
