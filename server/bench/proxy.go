//go:build !js

package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// countingProxy sits in front of the server and counts every byte of every
// connection in each direction, every HTTP request, and the header size of
// every response. It parses HTTP/1.1 until a connection upgrades (WS),
// after which it only counts bytes.
type countingProxy struct {
	ln       net.Listener
	upstream string

	up, down, conns, requests atomic.Int64

	mu    sync.Mutex
	heads []respHead
	open  map[net.Conn]struct{}
}

// respHead is one response's status line and headers, as sent.
type respHead struct {
	path   string
	status int
	bytes  int
	header http.Header
}

// counts is a snapshot of the counters.
type counts struct {
	up, down, conns, requests int64
	heads                     int // index into heads
}

func newCountingProxy() (*countingProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return &countingProxy{ln: ln, open: map[net.Conn]struct{}{}}, nil
}

func (p *countingProxy) url() string { return "http://" + p.ln.Addr().String() }

// serve forwards to upstream (host:port) until close.
func (p *countingProxy) serve(upstream string) {
	p.upstream = upstream
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.handle(c)
	}
}

func (p *countingProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.open {
		c.Close()
	}
	p.mu.Unlock()
}

func (p *countingProxy) snapshot() counts {
	p.mu.Lock()
	n := len(p.heads)
	p.mu.Unlock()
	return counts{up: p.up.Load(), down: p.down.Load(), conns: p.conns.Load(), requests: p.requests.Load(), heads: n}
}

// headsSince returns the responses recorded after snapshot c.
func (p *countingProxy) headsSince(c counts) []respHead {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]respHead(nil), p.heads[c.heads:]...)
}

func (p *countingProxy) handle(c net.Conn) {
	s, err := net.DialTimeout("tcp", p.upstream, 5*time.Second)
	if err != nil {
		c.Close()
		return
	}
	p.conns.Add(1)
	p.mu.Lock()
	p.open[c], p.open[s] = struct{}{}, struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.open, c)
		delete(p.open, s)
		p.mu.Unlock()
	}()

	paths := make(chan string, 64) // request paths, in order, for the responses
	upTap := newTap(func(r *bufio.Reader) { p.parseRequests(r, paths) })
	downTap := newTap(func(r *bufio.Reader) { p.parseResponses(r, paths) })
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		pump(s, c, &p.up, upTap)
		s.(*net.TCPConn).CloseWrite()
	}()
	pump(c, s, &p.down, downTap)
	c.(*net.TCPConn).CloseWrite()
	wg.Wait()
	c.Close()
	s.Close()
	upTap.stop()
	downTap.stop()
}

// pump copies src to dst, counting bytes and feeding the tap.
func pump(dst, src net.Conn, n *atomic.Int64, t *tap) {
	buf := make([]byte, 64<<10)
	for {
		k, err := src.Read(buf)
		if k > 0 {
			n.Add(int64(k))
			t.feed(buf[:k])
			if _, werr := dst.Write(buf[:k]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// tap feeds a copy of one direction to a parser goroutine until the parser
// stops (an upgrade, or bytes it cannot parse).
type tap struct {
	pw  *io.PipeWriter
	off atomic.Bool
}

func newTap(parse func(*bufio.Reader)) *tap {
	pr, pw := io.Pipe()
	t := &tap{pw: pw}
	go func() {
		parse(bufio.NewReaderSize(pr, 64<<10))
		t.off.Store(true)
		pr.CloseWithError(errStopParsing)
	}()
	return t
}

var errStopParsing = errors.New("stop parsing")

func (t *tap) feed(b []byte) {
	if t.off.Load() {
		return
	}
	if _, err := t.pw.Write(b); err != nil {
		t.off.Store(true)
	}
}

func (t *tap) stop() { t.pw.Close() }

func (p *countingProxy) parseRequests(r *bufio.Reader, paths chan<- string) {
	defer close(paths)
	for {
		req, err := http.ReadRequest(r)
		if err != nil {
			return
		}
		p.requests.Add(1)
		select {
		case paths <- req.URL.RequestURI():
		default:
		}
		if req.Header.Get("Upgrade") != "" {
			return
		}
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			return
		}
	}
}

func (p *countingProxy) parseResponses(r *bufio.Reader, paths <-chan string) {
	for {
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			return
		}
		path := <-paths
		n := len("HTTP/1.1 ") + len(resp.Status) + 2 + 2
		for k, vs := range resp.Header {
			for _, v := range vs {
				n += len(k) + 2 + len(v) + 2
			}
		}
		p.mu.Lock()
		p.heads = append(p.heads, respHead{path: path, status: resp.StatusCode, bytes: n, header: resp.Header})
		p.mu.Unlock()
		if resp.StatusCode == http.StatusSwitchingProtocols {
			return
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return
		}
		resp.Body.Close()
	}
}
