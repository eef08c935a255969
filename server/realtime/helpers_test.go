//go:build !js

package realtime_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/cometwasm/comet/server/realtime"
	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/realtime/broker/memory"
	"github.com/cometwasm/comet/server/wire"
)

// node is one realtime Handler mounted under /realtime/ of a test server
// on 127.0.0.1.
type node struct {
	h   *realtime.Handler
	srv *httptest.Server
	url string // http://127.0.0.1:PORT/realtime/
}

// newNode serves cfg; cfg.Logf defaults to t.Logf.
func newNode(t testing.TB, cfg realtime.Config) *node {
	t.Helper()
	if cfg.Logf == nil {
		cfg.Logf = t.Logf
	}
	h, err := realtime.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/realtime/", http.StripPrefix("/realtime", h))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		h.Close() // waits for the sessions it ends: none logs through t after the test
		if n := h.Sessions(); n > 0 {
			t.Errorf("%d sessions left after Handler.Close", n)
		}
		srv.CloseClientConnections()
		srv.Close()
	})
	return &node{h: h, srv: srv, url: srv.URL + "/realtime/"}
}

// twoNodes serves two Handlers on one broker, as two nodes of a cluster.
func twoNodes(t testing.TB, cfg realtime.Config) (*node, *node, *memory.Broker) {
	b := memory.New(broker.Limits{History: cfg.History})
	t.Cleanup(func() { b.Close() })
	cfg.Broker = b
	return newNode(t, cfg), newNode(t, cfg), b
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func publish(t testing.TB, b broker.Broker, topic string, data ...string) broker.Receipt {
	t.Helper()
	drafts := make([]wire.Draft, len(data))
	for i, d := range data {
		drafts[i] = wire.Draft{Data: json.RawMessage(d)}
	}
	r, err := b.Publish(context.Background(), topic, drafts, broker.PublishOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// client reads the lines of one session connection and keeps the cursor
// of each topic number as the wire implies it.
type client struct {
	t       testing.TB
	read    func() ([]byte, error) // one frame of lines
	send    func(cmds ...wire.Command)
	pending []wire.Line
	cursors map[int]wire.Cursor
	frames  int // frames read
	multi   int // frames that held more than one message line
	hello   wire.Frame
	close   func()
}

func newClient(t testing.TB, read func() ([]byte, error)) *client {
	return &client{t: t, read: read, cursors: map[int]wire.Cursor{}}
}

// next returns the next line other than a ping, updating the cursors.
func (c *client) next() wire.Line {
	c.t.Helper()
	for len(c.pending) == 0 {
		b, err := c.read()
		if err != nil {
			c.t.Fatalf("reading a frame: %v", err)
		}
		c.frames++
		msgs := 0
		err = wire.SplitLines(b, func(line []byte) error {
			l, err := wire.ParseLine(line)
			if err != nil {
				c.t.Fatalf("line %q: %v", line, err)
			}
			l.Data = append(json.RawMessage(nil), l.Data...)
			if l.IsMessage {
				msgs++
			}
			if l.IsMessage || l.Frame.Op != wire.OpPing {
				c.pending = append(c.pending, l)
			}
			return nil
		})
		if msgs > 1 {
			c.multi++
		}
	}
	l := c.pending[0]
	c.pending = c.pending[1:]
	switch {
	case l.IsMessage:
		cur, ok := c.cursors[l.T]
		if !ok {
			c.t.Fatalf("a message of t %d before its sub frame", l.T)
		}
		cur.Offset++
		c.cursors[l.T] = cur
	case l.Frame.Op == wire.OpSubscribe:
		c.cursors[l.Frame.T] = l.Frame.Cursor
	case l.Frame.Op == wire.OpUnsubscribe, l.Frame.Op == wire.OpGap:
		delete(c.cursors, l.Frame.T)
	}
	return l
}

// frame returns the next line, which must be a frame of op.
func (c *client) frame(op string) wire.Frame {
	c.t.Helper()
	l := c.next()
	if l.IsMessage || l.Frame.Op != op {
		c.t.Fatalf("got %+v, want a %q frame", l, op)
	}
	return l.Frame
}

// messages reads n message lines and returns their data per topic number.
func (c *client) messages(n int) map[int][]string {
	c.t.Helper()
	out := map[int][]string{}
	for range n {
		l := c.next()
		if !l.IsMessage {
			c.t.Fatalf("got frame %+v, want a message", l.Frame)
		}
		out[l.T] = append(out[l.T], string(l.Data))
	}
	return out
}

// countingConn counts the bytes read from a connection.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// countingClient is an HTTP client that counts the bytes it receives.
func countingClient(n *atomic.Int64) *http.Client {
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{c, n}, nil
	}}
	return &http.Client{Transport: tr}
}

// dialWS opens session/ws with query q.
func dialWS(t testing.TB, n *node, q string, hc *http.Client) *client {
	t.Helper()
	ctx := testCtx(t)
	u := "ws" + strings.TrimPrefix(n.url, "http") + "session/ws?" + q
	c, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", u, err, resp)
	}
	c.SetReadLimit(-1)
	cl := newClient(t, func() ([]byte, error) {
		_, b, err := c.Read(ctx)
		return b, err
	})
	cl.send = func(cmds ...wire.Command) {
		t.Helper()
		b, _ := json.Marshal(cmds)
		if len(cmds) == 1 {
			b, _ = json.Marshal(cmds[0])
		}
		if err := c.Write(ctx, websocket.MessageText, b); err != nil {
			t.Fatal(err)
		}
	}
	cl.close = func() { c.Close(websocket.StatusNormalClosure, "") }
	t.Cleanup(func() { c.CloseNow() })
	cl.hello = cl.frame(wire.OpHello)
	return cl
}

// openStream opens session/sse or session/stream on n with query q; its
// commands are POSTed to cmdNode.
func openStream(t testing.TB, n *node, kind, q string, cmdNode *node, hc *http.Client) *client {
	t.Helper()
	if hc == nil {
		hc = http.DefaultClient
	}
	ctx, cancel := context.WithCancel(testCtx(t))
	req, _ := http.NewRequestWithContext(ctx, "GET", n.url+"session/"+kind+"?"+q, nil)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET session/%s: %d %s", kind, resp.StatusCode, b)
	}
	read := streamReader(kind, bufio.NewReader(resp.Body))
	cl := newClient(t, read)
	cl.close = func() { cancel(); resp.Body.Close() }
	t.Cleanup(cl.close)
	cl.hello = cl.frame(wire.OpHello)
	cl.send = func(cmds ...wire.Command) {
		t.Helper()
		status, body := postCmd(t, cmdNode, cl.hello.Session, cmds...)
		if status != http.StatusAccepted {
			t.Fatalf("POST session/cmd: %d %s", status, body)
		}
	}
	return cl
}

// streamReader reads the frames of a session/sse or session/stream
// body: an SSE event's data lines, or a stream's line.
func streamReader(kind string, br *bufio.Reader) func() ([]byte, error) {
	if kind != "sse" {
		return func() ([]byte, error) { return br.ReadBytes('\n') }
	}
	return func() ([]byte, error) { // one event: its data lines
		var b []byte
		for {
			line, err := br.ReadBytes('\n')
			if err != nil {
				return nil, err
			}
			line = bytes.TrimSuffix(line, []byte("\n"))
			switch {
			case len(line) == 0 && len(b) > 0:
				return b, nil
			case bytes.HasPrefix(line, []byte("data:")):
				line = bytes.TrimPrefix(line[5:], []byte(" "))
				b = append(append(b, line...), '\n')
			}
		}
	}
}

func postCmd(t testing.TB, n *node, session string, cmds ...wire.Command) (int, string) {
	t.Helper()
	b, _ := json.Marshal(cmds)
	resp, err := http.Post(n.url+"session/cmd?session="+session, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// get fetches n's path and returns the status and body.
func get(t testing.TB, n *node, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(n.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// eventually polls cond until it holds or 10s pass.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for range 1000 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: not after 10s", what)
}

// sseEvents reads the SSE events of br: each as its type ("" for an
// unnamed one: a message, or a session's frame) and its non-empty data
// lines.
func sseEvents(t *testing.T, br *bufio.Reader) func() (string, []string) {
	return func() (string, []string) {
		t.Helper()
		var event string
		var lines []string
		hasData := false
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("reading events: %v", err)
			}
			line = strings.TrimSuffix(line, "\n")
			if line == "" {
				if hasData {
					return event, lines
				}
				continue
			}
			k, v, _ := strings.Cut(line, ":")
			switch k {
			case "event":
				event = v
			case "data":
				hasData = true
				if v != "" {
					lines = append(lines, v)
				}
			}
		}
	}
}
