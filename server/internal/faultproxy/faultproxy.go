//go:build !js

// Package faultproxy is a test-only TCP proxy that breaks connections on
// purpose: at random it drops, delays, truncates and resets them, so tests
// can prove a client reconnects and resumes (or fails clearly) on a bad
// network.
//
// Use Listen to open the proxy on a loopback port, then Serve to forward
// to the real server. Stats reports what the proxy did. With a fixed
// Config.Seed, the sequence of per-connection decisions is the same on
// every run (which connection gets which decision still depends on the
// order the client opens them).
//
// # Faults
//
// Each accepted connection draws one fate:
//
//   - drop: closed at once, before any byte reaches the server;
//   - reset: after a random number of server→client bytes, both sides are
//     closed with SO_LINGER 0 (a TCP RST);
//   - truncate: after a random number of server→client bytes, the client
//     gets a clean FIN mid-response and the server side is closed;
//   - pass: forwarded untouched.
//
// Independently, each forwarded chunk may be held back by a random delay.
// Everything is bounded: concurrent connections (MaxConns), delays
// (MaxDelay) and cut points (MaxCutBytes).
package faultproxy

import (
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"
)

// Config sets the fault rates. Rates are probabilities in [0, 1]; Drop,
// Reset and Truncate are drawn per connection and their sum must not
// exceed 1.
type Config struct {
	// Seed makes the decisions reproducible. Defaults to 1.
	Seed uint64
	// Drop is the share of connections closed before forwarding anything.
	Drop float64
	// Reset is the share of connections reset (RST) after a random number
	// of server→client bytes.
	Reset float64
	// Truncate is the share of connections whose server→client stream ends
	// early with a clean FIN.
	Truncate float64
	// Delay is the probability that one forwarded chunk waits a random
	// time up to MaxDelay. MaxDelay defaults to 50ms.
	Delay    float64
	MaxDelay time.Duration
	// MinCutBytes and MaxCutBytes bound the cut point of a reset or
	// truncated connection. Default 0 and 64 KiB.
	MinCutBytes, MaxCutBytes int
	// MaxConns caps concurrent proxied connections; further ones wait in
	// the listen queue. Defaults to 256.
	MaxConns int
}

// Stats counts what the proxy did since Listen.
type Stats struct {
	Conns     int   // connections accepted
	Dropped   int   // closed before forwarding
	Reset     int   // reset mid-stream (counted when the cut happened)
	Truncated int   // ended early with a FIN (counted when the cut happened)
	Delays    int   // chunks held back
	BytesUp   int64 // client→server bytes forwarded
	BytesDown int64 // server→client bytes forwarded
}

// Cuts returns the number of connections the proxy broke.
func (s Stats) Cuts() int { return s.Dropped + s.Reset + s.Truncated }

// String formats the figures on one line.
func (s Stats) String() string {
	return "conns=" + strconv.Itoa(s.Conns) + " dropped=" + strconv.Itoa(s.Dropped) +
		" reset=" + strconv.Itoa(s.Reset) + " truncated=" + strconv.Itoa(s.Truncated) +
		" delays=" + strconv.Itoa(s.Delays) + " up=" + strconv.FormatInt(s.BytesUp, 10) +
		" down=" + strconv.FormatInt(s.BytesDown, 10)
}

type fate int

const (
	pass fate = iota
	drop
	reset
	truncate
)

// Proxy is a running fault proxy.
type Proxy struct {
	cfg Config
	ln  net.Listener

	mu     sync.Mutex
	rng    *rand.Rand
	stats  Stats
	conns  map[net.Conn]struct{}
	closed bool

	slots chan struct{}
	wg    sync.WaitGroup
	done  chan struct{}
}

// Listen opens the proxy on a free loopback port. It forwards nothing
// until Serve is called, so its URL can be handed to the server first
// (e.g. for the origin allowlist).
func Listen(cfg Config) (*Proxy, error) {
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = 50 * time.Millisecond
	}
	if cfg.MaxCutBytes <= 0 {
		cfg.MaxCutBytes = 64 << 10
	}
	if cfg.MinCutBytes < 0 || cfg.MinCutBytes > cfg.MaxCutBytes {
		cfg.MinCutBytes = 0
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 256
	}
	if cfg.Drop < 0 || cfg.Reset < 0 || cfg.Truncate < 0 || cfg.Drop+cfg.Reset+cfg.Truncate > 1 {
		return nil, errors.New("faultproxy: Drop, Reset and Truncate must be ≥ 0 and sum to at most 1")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return &Proxy{
		cfg:   cfg,
		ln:    ln,
		rng:   rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		conns: map[net.Conn]struct{}{},
		slots: make(chan struct{}, cfg.MaxConns),
		done:  make(chan struct{}),
	}, nil
}

// Addr returns the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// URL returns "http://" + Addr().
func (p *Proxy) URL() string { return "http://" + p.Addr() }

// Serve forwards connections to target (host:port) in the background
// until Close.
func (p *Proxy) Serve(target string) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.acceptLoop(target)
	}()
}

// Stats returns the counts so far.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Close stops accepting, cuts every open connection and waits for the
// proxy's goroutines to end. It is idempotent.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.done)
	err := p.ln.Close()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

func (p *Proxy) acceptLoop(target string) {
	for {
		select {
		case p.slots <- struct{}{}:
		case <-p.done:
			return
		}
		c, err := p.ln.Accept()
		if err != nil {
			<-p.slots
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer func() { <-p.slots }()
			p.handle(c, target)
		}()
	}
}

// track registers c so Close can cut it; false if the proxy is closed.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// decide draws the fate and cut point of one connection.
func (p *Proxy) decide() (fate, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.Conns++
	x := p.rng.Float64()
	cut := p.cfg.MinCutBytes + p.rng.IntN(p.cfg.MaxCutBytes-p.cfg.MinCutBytes+1)
	switch {
	case x < p.cfg.Drop:
		p.stats.Dropped++
		return drop, 0
	case x < p.cfg.Drop+p.cfg.Reset:
		return reset, cut
	case x < p.cfg.Drop+p.cfg.Reset+p.cfg.Truncate:
		return truncate, cut
	}
	return pass, 0
}

// delay returns how long the next chunk waits (0 for none).
func (p *Proxy) delay() time.Duration {
	if p.cfg.Delay <= 0 {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rng.Float64() >= p.cfg.Delay {
		return 0
	}
	p.stats.Delays++
	return time.Duration(p.rng.Int64N(int64(p.cfg.MaxDelay)) + 1)
}

func (p *Proxy) count(f func(*Stats)) {
	p.mu.Lock()
	f(&p.stats)
	p.mu.Unlock()
}

func (p *Proxy) handle(client net.Conn, target string) {
	if !p.track(client) {
		client.Close()
		return
	}
	defer p.untrack(client)
	defer client.Close()
	f, cut := p.decide()
	if f == drop {
		abort(client)
		return
	}
	server, err := net.DialTimeout("tcp", target, 5*time.Second)
	if err != nil {
		abort(client)
		return
	}
	if !p.track(server) {
		server.Close()
		return
	}
	defer p.untrack(server)
	defer server.Close()

	upDone := make(chan struct{})
	go func() {
		defer close(upDone)
		p.copy(server, client, -1, func(n int) { p.count(func(s *Stats) { s.BytesUp += int64(n) }) })
		// The client finished sending (or is gone): pass the FIN on.
		if tc, ok := server.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
	}()
	limit := -1
	if f == reset || f == truncate {
		limit = cut
	}
	reached := p.copy(client, server, limit, func(n int) { p.count(func(s *Stats) { s.BytesDown += int64(n) }) })
	switch {
	case reached && f == reset:
		p.count(func(s *Stats) { s.Reset++ })
		abort(client)
		abort(server)
	case reached && f == truncate:
		p.count(func(s *Stats) { s.Truncated++ })
		if tc, ok := client.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
		server.Close()
		// Let the client read the FIN before the socket goes away.
		select {
		case <-upDone:
		case <-time.After(time.Second):
		case <-p.done:
		}
	default:
		if tc, ok := client.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
	}
	client.Close()
	server.Close()
	<-upDone
}

// copy forwards src to dst, at most limit bytes (-1: no limit), delaying
// chunks at random. It reports whether the limit was reached.
func (p *Proxy) copy(dst, src net.Conn, limit int, counted func(int)) bool {
	buf := make([]byte, 16<<10)
	sent := 0
	for {
		if limit >= 0 && sent >= limit {
			return true
		}
		n, err := src.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			if limit >= 0 && sent+n > limit {
				chunk = chunk[:limit-sent]
			}
			if d := p.delay(); d > 0 {
				select {
				case <-time.After(d):
				case <-p.done:
					return false
				}
			}
			if _, werr := dst.Write(chunk); werr != nil {
				return false
			}
			sent += len(chunk)
			counted(len(chunk))
			if limit >= 0 && sent >= limit {
				return true
			}
		}
		if err != nil {
			return false
		}
	}
}

// abort closes c with a TCP RST.
func abort(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}
