//go:build !js

package faultproxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"runtime"
	"testing"
	"time"
)

// upstream serves payload to every connection after reading its first
// byte, then closes; it stops with the test.
func upstream(t *testing.T, payload []byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				one := make([]byte, 1)
				if _, err := io.ReadFull(c, one); err != nil {
					return
				}
				c.Write(payload)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

// fetch connects through the proxy, sends one byte and reads to the end.
func fetch(t *testing.T, addr string) ([]byte, error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err // a drop may reset the connection before Dial returns
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte("x"))
	return io.ReadAll(c)
}

func TestFaults(t *testing.T) {
	payload := bytes.Repeat([]byte("0123456789"), 10000)
	target := upstream(t, payload)
	tests := []struct {
		name  string
		cfg   Config
		check func(t *testing.T, got []byte, err error, s Stats)
	}{
		{"pass with delays", Config{Delay: 0.5, MaxDelay: time.Millisecond}, func(t *testing.T, got []byte, err error, s Stats) {
			if err != nil || !bytes.Equal(got, payload) {
				t.Errorf("got %d bytes, err %v; want all %d bytes", len(got), err, len(payload))
			}
			if s.Cuts() != 0 || s.BytesDown != int64(len(payload)) || s.BytesUp != 1 {
				t.Errorf("stats %v", s)
			}
		}},
		{"drop", Config{Drop: 1}, func(t *testing.T, got []byte, err error, s Stats) {
			if len(got) != 0 || s.Dropped != 1 || s.BytesDown != 0 {
				t.Errorf("got %d bytes, stats %v; want nothing and one drop", len(got), s)
			}
		}},
		{"truncate", Config{Truncate: 1, MinCutBytes: 1234, MaxCutBytes: 1234}, func(t *testing.T, got []byte, err error, s Stats) {
			if err != nil || !bytes.Equal(got, payload[:1234]) || s.Truncated != 1 {
				t.Errorf("got %d bytes, err %v, stats %v; want the first 1234 bytes, then a clean EOF", len(got), err, s)
			}
		}},
		{"reset", Config{Reset: 1, MinCutBytes: 1000, MaxCutBytes: 1000}, func(t *testing.T, got []byte, err error, s Stats) {
			// An RST may discard bytes not yet read, so only an upper bound holds.
			if len(got) > 1000 || s.Reset != 1 {
				t.Errorf("got %d bytes, stats %v; want at most 1000 and one reset", len(got), s)
			}
			if err == nil && len(got) == len(payload) {
				t.Errorf("reset connection delivered everything")
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Listen(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			p.Serve(target)
			got, err := fetch(t, p.Addr())
			p.Close()
			tc.check(t, got, err, p.Stats())
		})
	}
}

func TestSeedIsDeterministic(t *testing.T) {
	draw := func(seed uint64) []fate {
		p, err := Listen(Config{Seed: seed, Drop: 0.2, Reset: 0.3, Truncate: 0.3})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		var out []fate
		for range 200 {
			f, _ := p.decide()
			out = append(out, f)
		}
		return out
	}
	a, b, c := draw(7), draw(7), draw(8)
	var counts [4]int
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("seed 7 gave different decisions at %d", i)
		}
		counts[a[i]]++
	}
	if equalFates(a, c) {
		t.Error("seeds 7 and 8 gave the same 200 decisions")
	}
	for f, n := range counts {
		if n == 0 {
			t.Errorf("fate %d never drawn in 200 connections: %v", f, counts)
		}
	}
}

func equalFates(a, b []fate) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestBadConfig(t *testing.T) {
	if _, err := Listen(Config{Drop: 0.6, Reset: 0.6}); err == nil {
		t.Error("rates summing over 1 accepted")
	}
}

// TestCloseCutsEverything holds connections open through the proxy, closes
// it, and checks the clients see the end and no goroutine is left.
func TestCloseCutsEverything(t *testing.T) {
	before := runtime.NumGoroutine()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	held := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(held)
				return
			}
			held <- c // never answers: a hanging stream
		}
	}()
	p, err := Listen(Config{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	p.Serve(ln.Addr().String())
	var clients []net.Conn
	for range 4 {
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("GET"))
		clients = append(clients, c)
	}
	for range 4 {
		<-held
	}
	p.Close()
	for _, c := range clients {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := c.Read(make([]byte, 1))
		var ne net.Error
		if err == nil || errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("client still connected after Close: %v", err)
		}
		c.Close()
	}
	ln.Close()
	for c := range held {
		c.Close()
	}
	if got := p.Stats().Conns; got != 4 {
		t.Errorf("conns = %d, want 4", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after Close, %d before", n, before)
	}
}
