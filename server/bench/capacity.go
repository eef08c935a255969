//go:build !js

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// capClient is one idle subscriber held by the capacity section: a raw
// WebSocket or SSE connection with a tiny hand-written reader, so the
// clients cost little of the 2 CPUs the server needs.
type capClient struct {
	conn    net.Conn
	got     chan time.Time // arrival of each marked message
	msgs    atomic.Int64   // marked messages so far
	wire    atomic.Int64   // wire bytes of the last marked message
	read    atomic.Int64   // bytes read from the connection
	writeMu sync.Mutex
}

func (b *bench) capacity(ctx context.Context, sec *section) error {
	n := b.capN
	limit := fileLimit()
	public := b.work + "/cap-public"
	os.MkdirAll(public, 0o755)
	sec.printf("\nA fresh server process per kind; the bench process holds the clients (raw sockets with a minimal WebSocket / SSE reader, one goroutine each) on 127.0.0.1. fd limit (hard, both processes): %d. Memory per connection = (server VmRSS with N idle subscribers − VmRSS before) / N. Broadcast: one POST /realtime/publish to the topic all N follow; latency = arrival at each client − the moment before the POST; %d broadcasts per kind, median shown.\n", limit, b.runs)

	need := uint64(n) + 200
	if need > limit {
		n = int(limit) - 200
		sec.printf("\nThe fd limit caps N at %d per kind.\n", n)
	}
	sec.printf("\nEach kind is first held alone (N = %d), then the two single-topic kinds at once, as many as the fd limit allows: 10,000 WebSocket + 10,000 SSE connections at once need more than 20,000 fds in the server (and in the client), and this container's hard RLIMIT_NOFILE is %d, which even root cannot raise here (setrlimit: operation not permitted). With a hard limit ≥ 20,500 the same code holds 10,000 + 10,000.\n", n, limit)

	sec.printf("\nThe rows \"WebSocket\" and \"SSE\" follow the topic on the single-topic endpoints (/ws/realtime, /realtime/sse: one topic per connection, the self-describing envelope per message); the rows \"… session\" on the session endpoints (/realtime/session/ws and /realtime/session/sse with sub=1,TOPIC,CURSOR: the line `1 DATA` per message), the protocol comet.Subscribe speaks. Each row's targets are its own: connections held, p99 of the broadcast to all N, and for WebSocket the memory per idle connection.\n")
	type kind struct {
		name string
		path func(topic, cur string) string
		dial func(ctx context.Context, host, path string) (*capClient, error)
	}
	single := func(p string) func(topic, cur string) string {
		return func(topic, cur string) string { return p + "?topic=" + topic + "&cursor=" + cur }
	}
	session := func(p string) func(topic, cur string) string {
		return func(topic, cur string) string { return p + "?sub=1," + topic + "," + cur }
	}
	kinds := []kind{
		{"WebSocket", single("/ws/realtime"), dialWS},
		{"SSE", single("/realtime/sse"), dialSSE},
		{"WebSocket session", session("/realtime/session/ws"), dialSessionWS},
		{"SSE session", session("/realtime/session/sse"), dialSessionSSE},
	}
	var rows [][]string
	for _, k := range kinds {
		srv, err := b.startServer(ctx, "-public", public, "-max-streams", "30000", "-max-streams-per-ip", "30000")
		if err != nil {
			return err
		}
		host := strings.TrimPrefix(srv.Page, "http://")
		topic := "cap-" + strings.ReplaceAll(strings.ToLower(k.name), " ", "-")
		cur, err := publish(ctx, srv.Page, topic, []map[string]any{{"type": "start", "data": nil}})
		if err != nil {
			srv.Stop()
			return err
		}
		time.Sleep(500 * time.Millisecond)
		rss0, _ := rss(srv)
		t0 := time.Now()
		clients, err := holdClients(ctx, n, func(ctx context.Context) (*capClient, error) {
			return k.dial(ctx, host, k.path(topic, cur))
		})
		held := len(clients)
		dialTime := time.Since(t0)
		time.Sleep(time.Second) // let the server settle
		rss1, _ := rss(srv)
		perConn := float64(rss1-rss0) / float64(max(1, held))
		logf("capacity %s: held %d in %s (%v); rss %d → %d (%.1f KiB/conn)", k.name, held, dialTime.Round(time.Millisecond), err, rss0, rss1, perConn/1024)

		var p50s, p99s, rates []float64
		delivered, deliveries := 0, 0
		var cpu time.Duration // the server's, from before each publish to the last arrival
		for r := 0; r < b.runs && held > 0; r++ {
			cpu0, _ := procCPU(srv.PID())
			start := time.Now()
			data, _ := json.Marshal(benchData{T: start.UnixNano(), I: r})
			if _, err := publish(ctx, srv.Page, topic, []map[string]any{{"type": "message", "data": json.RawMessage(data)}}); err != nil {
				logf("capacity: publish: %v", err)
				break
			}
			lat, last := collect(clients, start, 10*time.Second)
			cpu1, _ := procCPU(srv.PID())
			cpu += cpu1 - cpu0
			deliveries += len(lat)
			delivered = len(lat)
			if len(lat) > 0 {
				p50s = append(p50s, percentile(lat, 50))
				p99s = append(p99s, percentile(lat, 99))
				rates = append(rates, float64(len(lat))/last.Sub(start).Seconds())
			}
			time.Sleep(300 * time.Millisecond)
		}
		for _, c := range clients {
			c.close()
		}
		srv.Stop()
		heldText := fmt.Sprintf("%d of %d", held, n)
		if err != nil {
			heldText += " (" + firstErr([]string{err.Error()}) + ")"
		}
		rows = append(rows, []string{k.name, heldText, dialTime.Round(time.Millisecond).String(), fmt.Sprintf("%.1f KiB", perConn/1024),
			fmt.Sprintf("%d of %d", delivered, held), fmtMs(p50s), fmtMs(p99s), fmtRate(rates), cpuPerText(cpu, deliveries)})

		wantHeld := fmt.Sprintf("%d held", b.capN)
		sec.target(k.name+" connections held", wantHeld, fmt.Sprintf("%d (one kind at a time)", held), held >= b.capN)
		if strings.HasPrefix(k.name, "WebSocket") {
			sec.target("memory per idle "+k.name+" connection (server RSS)", "≤ 16 KiB", fmt.Sprintf("%.1f KiB", perConn/1024), perConn <= 16*1024)
		}
		if len(p99s) > 0 {
			m := median(p99s)
			sec.target(fmt.Sprintf("%s fan-out to %d: p99 delivery", k.name, held), "≤ 250 ms", fmt.Sprintf("%.1f ms", m), m <= 250 && held >= b.capN && delivered == held)
		} else {
			sec.missing(k.name+" fan-out p99", "≤ 250 ms", "no delivery")
		}
	}
	sec.table([]string{"kind", "held", "time to connect all", "server memory per connection", "delivered per broadcast", "broadcast p50", "broadcast p99", "deliveries/s", "server CPU per delivery"}, rows)
	sec.printf("\nServer CPU per delivery = the server's CPU time (utime + stime, /proc, 10 ms ticks) from just before each POST to the last arrival, over all broadcasts, divided by the deliveries. On these 2 shared CPUs the broadcast's p99 is mostly the server's CPU work queued behind the other processes', so this column moves less with the machine's load than the latencies.\n")
	return b.capacityBoth(ctx, sec, public, kinds[0].dial, kinds[1].dial)
}

// capacityBoth holds WebSocket and SSE subscribers at once, as many as
// the fd limit allows (up to capN each), and broadcasts once to each.
func (b *bench) capacityBoth(ctx context.Context, sec *section, public string, dialWS, dialSSE func(context.Context, string, string) (*capClient, error)) error {
	each := min(b.capN, (int(fileLimit())-300)/2)
	srv, err := b.startServer(ctx, "-public", public, "-max-streams", "30000", "-max-streams-per-ip", "30000")
	if err != nil {
		return err
	}
	defer srv.Stop()
	host := strings.TrimPrefix(srv.Page, "http://")
	var all []*capClient
	defer func() {
		for _, c := range all {
			c.close()
		}
	}()
	delivered, held := 0, 0
	var heldErr error
	for _, k := range []struct {
		topic, path string
		dial        func(context.Context, string, string) (*capClient, error)
	}{{"both-ws", "/ws/realtime", dialWS}, {"both-sse", "/realtime/sse", dialSSE}} {
		cur, err := publish(ctx, srv.Page, k.topic, []map[string]any{{"type": "start", "data": nil}})
		if err != nil {
			return err
		}
		clients, err := holdClients(ctx, each, func(ctx context.Context) (*capClient, error) {
			return k.dial(ctx, host, k.path+"?topic="+k.topic+"&cursor="+cur)
		})
		if err != nil && heldErr == nil {
			heldErr = err
		}
		all = append(all, clients...)
		held += len(clients)
		data, _ := json.Marshal(benchData{T: time.Now().UnixNano()})
		if _, err := publish(ctx, srv.Page, k.topic, []map[string]any{{"type": "message", "data": json.RawMessage(data)}}); err != nil {
			return err
		}
		lat, _ := collect(clients, time.Now(), 10*time.Second)
		delivered += len(lat)
	}
	rss, _ := rss(srv)
	got := fmt.Sprintf("%d held at once (%d WS + %d SSE asked), %d of %d delivered a broadcast, server RSS %.0f MB", held, each, each, delivered, held, float64(rss)/1e6)
	if heldErr != nil {
		got += "; first failure: " + firstErr([]string{heldErr.Error()})
	}
	logf("capacity both: %s", got)
	sec.printf("\nBoth kinds at once, as many as the fd limit allows: %s.\n", got)
	want := fmt.Sprintf("%d WS + %d SSE at once", b.capN, b.capN)
	if each < b.capN {
		sec.target(want, "held", fmt.Sprintf("%d + %d held at once; %d + %d need more fds than the hard limit %d", each, each, b.capN, b.capN, fileLimit()), false)
	} else {
		sec.target(want, "held", got, held == 2*each && delivered == held)
	}
	return nil
}

// collect waits up to timeout for one arrival (c.got) per client and
// returns each latency from start in ms, and the last arrival.
func collect(clients []*capClient, start time.Time, timeout time.Duration) (lat []float64, last time.Time) {
	lat = make([]float64, 0, len(clients))
	deadline := time.After(timeout)
	for _, c := range clients {
		select {
		case at := <-c.got:
			lat = append(lat, float64(at.Sub(start).Microseconds())/1000)
			if at.After(last) {
				last = at
			}
		case <-deadline:
			return lat, last
		}
	}
	return lat, last
}

// cpuPerText is cpu over n deliveries in µs.
func cpuPerText(cpu time.Duration, n int) string {
	if n == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f µs", float64(cpu.Microseconds())/float64(n))
}

func fmtMs(xs []float64) string {
	if len(xs) == 0 {
		return "–"
	}
	return ms(median(xs))
}

// holdClients opens n clients, 64 dials at a time, and returns those that
// connected; err is the first failure.
func holdClients(ctx context.Context, n int, dial func(context.Context) (*capClient, error)) ([]*capClient, error) {
	var (
		mu      sync.Mutex
		clients []*capClient
		first   error
		failed  atomic.Int64
		wg      sync.WaitGroup
	)
	next := make(chan struct{})
	go func() {
		defer close(next)
		for i := 0; i < n && failed.Load() < 50; i++ {
			select {
			case next <- struct{}{}:
			case <-ctx.Done():
				return
			}
		}
	}()
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				c, err := dial(dctx)
				cancel()
				mu.Lock()
				if err != nil {
					failed.Add(1)
					if first == nil {
						first = err
					}
				} else {
					clients = append(clients, c)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return clients, first
}

func (c *capClient) close() {
	if tc, ok := c.conn.(*net.TCPConn); ok {
		tc.SetLinger(0) // no TIME_WAIT: the next kind needs the ports
	}
	c.conn.Close()
}

// onMsg is called by a client's reader for each text WebSocket message
// or SSE event: p is its payload (WS) or raw event text (SSE), wire the
// bytes it took on the wire (frame header included), at its arrival.
// It runs on the reader goroutine and must not keep p.
type onMsg func(c *capClient, p []byte, wire int, at time.Time)

// markIf returns an onMsg that timestamps (c.got) and counts (c.msgs)
// every message containing marker, and keeps its wire size (c.wire).
func markIf(marker string) onMsg {
	m := []byte(marker)
	return func(c *capClient, p []byte, wire int, at time.Time) {
		if bytes.Contains(p, m) {
			c.mark(wire, at)
		}
	}
}

// mark records one delivered message.
func (c *capClient) mark(wire int, at time.Time) {
	c.msgs.Add(1)
	c.wire.Store(int64(wire))
	select {
	case c.got <- at:
	default:
	}
}

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n *atomic.Int64
}

func (r countReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.n.Add(int64(n))
	return n, err
}

// dialWS opens a comet WebSocket subscriber: "message" envelopes are
// timestamped.
func dialWS(ctx context.Context, host, path string) (*capClient, error) {
	return dialWSFunc(ctx, host, path, markIf(`"type":"message"`))
}

// dialSessionWS opens a session WebSocket whose URL subscribes topic 1
// (sub=1,TOPIC,CURSOR): it returns once the subscription is answered, and
// timestamps each message line of a bench payload (a frame may hold
// several lines).
func dialSessionWS(ctx context.Context, host, path string) (*capClient, error) {
	mark := markIf(sessionMarker)
	return dialWSUntil(ctx, host, path, nil, sessionReady, func(c *capClient, p []byte, wire int, at time.Time) {
		for line := range bytes.Lines(p) {
			if bytes.HasPrefix(line, []byte(sessionMarker)) {
				mark(c, line, wire, at)
			}
		}
	})
}

// dialSessionSSE opens a session event stream subscribed by its URL and
// timestamps each event that carries a message line of a bench payload.
func dialSessionSSE(ctx context.Context, host, path string) (*capClient, error) {
	return dialSSEFunc(ctx, host, path, []byte(`"op":"sub"`), markIf(sessionMarker))
}

// dialWSFunc opens a WebSocket with a raw handshake and reads frames in a
// goroutine: text messages go to fn; pings are answered.
func dialWSFunc(ctx context.Context, host, path string, fn onMsg) (*capClient, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, err
	}
	c := &capClient{conn: conn, got: make(chan time.Time, 8)}
	key := make([]byte, 16)
	rand.Read(key)
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
		path, host, base64.StdEncoding.EncodeToString(key))
	br := bufio.NewReaderSize(countReader{conn, &c.read}, 1024)
	if dl, ok := ctx.Deadline(); ok {
		conn.SetReadDeadline(dl)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		conn.Close()
		return nil, fmt.Errorf("ws: %s", resp.Status)
	}
	conn.SetReadDeadline(time.Time{})
	go c.readWS(br, fn)
	return c, nil
}

func (c *capClient) readWS(br *bufio.Reader, fn onMsg) {
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(br, hdr[:2]); err != nil {
			return
		}
		op := hdr[0] & 0x0f
		n := uint64(hdr[1] & 0x7f)
		head := 2
		switch n {
		case 126:
			if _, err := io.ReadFull(br, hdr[:2]); err != nil {
				return
			}
			n = uint64(binary.BigEndian.Uint16(hdr[:2]))
			head += 2
		case 127:
			if _, err := io.ReadFull(br, hdr[:8]); err != nil {
				return
			}
			n = binary.BigEndian.Uint64(hdr[:8])
			head += 8
		}
		if n > 1<<20 {
			return
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(br, p); err != nil {
			return
		}
		now := time.Now()
		switch op {
		case 0x1:
			fn(c, p, head+int(n), now)
		case 0x9: // ping: answer with a pong
			c.writeWS(0xa, p)
		case 0x8:
			return
		}
	}
}

// writeWS sends one masked frame (final, opcode op) holding p; the zero
// mask key leaves p as is.
func (c *capClient) writeWS(op byte, p []byte) error {
	frame := []byte{0x80 | op}
	switch n := len(p); {
	case n < 126:
		frame = append(frame, 0x80|byte(n))
	case n < 1<<16:
		frame = append(frame, 0x80|126, byte(n>>8), byte(n))
	default:
		frame = append(frame, 0x80|127)
		frame = binary.BigEndian.AppendUint64(frame, uint64(n))
	}
	frame = append(append(frame, 0, 0, 0, 0), p...)
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_, err := c.conn.Write(frame)
	return err
}

// dialSSE opens comet's /realtime/sse and timestamps each "message" event
// once the "_open" event has come.
func dialSSE(ctx context.Context, host, path string) (*capClient, error) {
	return dialSSEFunc(ctx, host, path, []byte("event: _open"), markIf("event: message"))
}

// dialSSEFunc opens an event stream, waits for the first event that
// contains ready (so the subscription exists when the dial returns), and
// hands every later event to fn.
func dialSSEFunc(ctx context.Context, host, path string, ready []byte, fn onMsg) (*capClient, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, err
	}
	c := &capClient{conn: conn, got: make(chan time.Time, 8)}
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n", path, host)
	br := bufio.NewReaderSize(countReader{conn, &c.read}, 1024)
	if dl, ok := ctx.Deadline(); ok {
		conn.SetReadDeadline(dl)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		conn.Close()
		return nil, fmt.Errorf("sse: %s", resp.Status)
	}
	body := bufio.NewReaderSize(resp.Body, 1024)
	var ev []byte
	for !bytes.Contains(ev, ready) {
		if ev, err = readEvent(body, ev[:0]); err != nil {
			conn.Close()
			return nil, err
		}
	}
	conn.SetReadDeadline(time.Time{})
	go func() {
		var ev []byte
		for {
			var err error
			if ev, err = readEvent(body, ev[:0]); err != nil {
				return
			}
			fn(c, ev, len(ev), time.Now())
		}
	}()
	return c, nil
}

// readEvent appends the lines of one SSE event, up to and including the
// blank line that ends it, to ev (at most 64 KiB).
func readEvent(br *bufio.Reader, ev []byte) ([]byte, error) {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return ev, err
		}
		if len(ev)+len(line) > 64<<10 {
			return ev, errors.New("sse: event over 64 KiB")
		}
		ev = append(ev, line...)
		if err == nil && (len(line) == 1 || len(line) == 2 && line[0] == '\r') {
			if len(ev) > len(line) { // not a stray blank line
				return ev, nil
			}
			ev = ev[:0]
		}
	}
}
