//go:build !js

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestPeerPayload(t *testing.T) {
	for _, i := range []int{0, 7, 123456, 1 << 30} {
		p := peerPayload(i)
		if len(p) != peerPayloadSize {
			t.Errorf("peerPayload(%d) is %d bytes, want %d: %s", i, len(p), peerPayloadSize, p)
		}
		if !json.Valid(p) {
			t.Errorf("peerPayload(%d) is not JSON: %s", i, p)
		}
		if got, err := payloadIndex(p); err != nil || got != i {
			t.Errorf("payloadIndex(peerPayload(%d)) = %d, %v", i, got, err)
		}
	}
	if _, err := payloadIndex([]byte(`{"x":1}`)); err == nil {
		t.Error("payloadIndex accepted a payload without i")
	}
}

func TestReadEvent(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"one", "data: a\n\n", []string{"data: a\n\n"}},
		{"preamble and CRLF", "\r\nid: 1\r\ndata: b\r\n\r\n", []string{"id: 1\r\ndata: b\r\n\r\n"}},
		{"two", "event: x\ndata: 1\n\ndata: 2\n\n", []string{"event: x\ndata: 1\n\n", "data: 2\n\n"}},
		{"stray blank lines", "\n\n\ndata: c\n\n", []string{"data: c\n\n"}},
		{"long line", "data: " + strings.Repeat("y", 3000) + "\n\n", []string{"data: " + strings.Repeat("y", 3000) + "\n\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			br := bufio.NewReaderSize(strings.NewReader(tc.in), 1024)
			var got []string
			for {
				ev, err := readEvent(br, nil)
				if err != nil {
					break
				}
				got = append(got, string(ev))
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("too big", func(t *testing.T) {
		br := bufio.NewReader(strings.NewReader("data: " + strings.Repeat("z", 70<<10) + "\n\n"))
		if _, err := readEvent(br, nil); err == nil {
			t.Error("an event over 64 KiB was accepted")
		}
	})
}

// TestRawWebSocket sends messages of every length class through the raw
// client to coder/websocket's echo and reads them back.
func TestRawWebSocket(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(1 << 20)
		for {
			typ, p, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, p); err != nil {
				return
			}
		}
	}))
	defer ts.Close()
	got := make(chan []byte, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := dialWSFunc(ctx, strings.TrimPrefix(ts.URL, "http://"), "/", func(c *capClient, p []byte, wire int, at time.Time) {
		head := 2
		if len(p) >= 126 {
			head = 4
		}
		if len(p) >= 1<<16 {
			head = 10
		}
		if wire != head+len(p) {
			t.Errorf("wire %d for a %d-byte message, want %d", wire, len(p), head+len(p))
		}
		got <- bytes.Clone(p)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	for _, n := range []int{0, 1, 125, 126, 1000, 65535, 65536, 200000} {
		msg := bytes.Repeat([]byte{'a' + byte(n%26)}, n)
		if err := c.writeWS(0x1, msg); err != nil {
			t.Fatalf("write %d: %v", n, err)
		}
		select {
		case p := <-got:
			if !bytes.Equal(p, msg) {
				t.Errorf("%d bytes sent, %d came back (or other bytes)", n, len(p))
			}
		case <-ctx.Done():
			t.Fatalf("no echo of %d bytes", n)
		}
	}
}

func TestProcCPU(t *testing.T) {
	start, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Busy until the kernel has counted at least one more tick.
	x := 0
	for i := 0; i < 1<<34; i++ {
		x += i
		if i%(1<<20) == 0 {
			if now, _ := procCPU(os.Getpid()); now > start {
				return
			}
		}
	}
	t.Errorf("CPU time did not grow (%d)", x)
}

func TestDecode(t *testing.T) {
	cf := &centrifugo{}
	pubs, epoch, err := cf.decode([]byte(`{"id":2,"subscribe":{"recoverable":true,"epoch":"ab","offset":9,"publications":[{"data":{"t":1,"i":5,"p":""},"offset":8},{"data":{"t":1,"i":6,"p":""},"offset":9}],"recovered":true}}`))
	if err != nil || epoch != "ab" || len(pubs) != 2 || pubs[1] != (peerPub{i: 6, offset: 9}) {
		t.Errorf("centrifugo subscribe reply: %v %q %v", pubs, epoch, err)
	}
	pubs, _, err = cf.decode([]byte(`{"push":{"channel":"x","pub":{"data":{"t":1,"i":7,"p":""},"offset":10}}}`))
	if err != nil || len(pubs) != 1 || pubs[0] != (peerPub{i: 7, offset: 10}) {
		t.Errorf("centrifugo push: %v %v", pubs, err)
	}
	cm := &cometPeer{}
	pubs, epoch, err = cm.decode([]byte(`{"topic":"x","offset":3,"epoch":"e1","type":"message","data":{"t":1,"i":2,"p":""}}`))
	if err != nil || epoch != "e1" || len(pubs) != 1 || pubs[0] != (peerPub{i: 2, offset: 3}) {
		t.Errorf("comet message: %v %q %v", pubs, epoch, err)
	}
	pubs, epoch, err = cm.decode([]byte(`{"topic":"x","offset":3,"epoch":"e1","type":"_open","data":null}`))
	if err != nil || epoch != "e1" || len(pubs) != 0 {
		t.Errorf("comet _open: %v %q %v", pubs, epoch, err)
	}
	cs := &cometSessionPeer{}
	pubs, epoch, err = cs.decode([]byte(`{"op":"sub","t":1,"topic":"x","cursor":"e2-7"}`))
	if err != nil || epoch != "e2" || len(pubs) != 0 {
		t.Errorf("comet session sub: %v %q %v", pubs, epoch, err)
	}
	for i, want := range []peerPub{{i: 4, offset: 8}, {i: 5, offset: 9}} { // offsets implied
		pubs, _, err = cs.decode([]byte(`1 {"t":1,"i":` + strconv.Itoa(want.i) + `,"p":""}`))
		if err != nil || len(pubs) != 1 || pubs[0] != want {
			t.Errorf("comet session line %d: %v %v", i, pubs, err)
		}
	}
	if pubs, _, err = cs.decode([]byte(`{"op":"ping"}`)); err != nil || len(pubs) != 0 {
		t.Errorf("comet session ping: %v %v", pubs, err)
	}
}

// TestPeerComet runs the load generator against the real comet server:
// a small fan-out, the throughput test and the resume check.
func TestPeerComet(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go tool")
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	b := &bench{root: root, work: work, serverBin: filepath.Join(work, "comet-server")}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := goBuild(ctx, root, nil, b.serverBin, "./server"); err != nil {
		t.Fatal(err)
	}
	for _, sys := range []peerSystem{&cometSessionPeer{cometPeer: cometPeer{b}}, &cometPeer{b}} {
		t.Run(sys.name(), func(t *testing.T) { peerRun(ctx, t, b, sys) })
	}
}

// peerRun runs the load generator against one system.
func peerRun(ctx context.Context, t *testing.T, b *bench, sys peerSystem) {
	res := []*peerRound{{}}
	b.peerWS(ctx, []peerSystem{sys}, 20, res)
	r := res[0]
	if r.wsHeld != 20 || r.delivered != 20*peerBroadcasts || len(r.errs) > 0 {
		t.Errorf("fan-out: held %d, delivered %d of %d, errors %v", r.wsHeld, r.delivered, r.wanted, r.errs)
	}
	if r.wsWire <= 0 || r.wsWire > 200 {
		t.Errorf("WS bytes beyond the data: %v", r.wsWire)
	}
	if r.tput <= 0 {
		t.Errorf("no throughput: %v", r.errs)
	}
	if !r.resumeOK {
		t.Errorf("resume: %s", r.resume)
	}
	held, _, wire, err := peerIdle(ctx, sys, 20, "idle-sse", sys.dialSSE, sys.marker("sse"))
	if err != nil || held != 20 || !(wire > 0 && wire < 300) {
		t.Errorf("SSE: held %d, bytes beyond the data %v, %v", held, wire, err)
	}
}
