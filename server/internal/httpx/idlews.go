//go:build !js

package httpx

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// IdleWS is an accepted WebSocket connection served without a goroutine
// blocked inside coder/websocket's reader: between messages its one
// goroutine waits in a shallow frame for the next byte (Serve), so an
// idle connection's stack stays at the runtime's 2 KiB minimum, and each
// message is read and handled by the goroutine that waited, which hands
// the waiting on to a fresh one. The client's pongs are taken before
// coder/websocket sees them (closeCheckConn), so a pong does not wake a
// reader that would then block deep inside it; the heartbeat is a timer
// that writes the pings itself.
//
// Only Serve's goroutines read, and a close with a status (Close) is
// done by them, so coder/websocket's close handshake never reads beside
// a waiting goroutine. Write is safe for concurrent use.
type IdleWS struct {
	Conn *websocket.Conn

	raw net.Conn        // the hijacked connection
	cc  *closeCheckConn // between raw and br
	br  *bufio.Reader   // coder/websocket's reader
	k   Keepalive       // pings
	wmu sync.Mutex      // one frame at a time: Write and the pings
	wd  writeDeadline   // of every write: Write's, the pings, coder/websocket's; wmu guards it
	wcl bool            // no more frames: the connection is closing
	iov [2][]byte       // Write's header and payload
	hmu sync.Mutex      // the heartbeat's state
	hb  *time.Timer     // the next ping, or the end of the wait for a pong
	out bool            // a ping is unanswered
	hbs bool            // the heartbeat stopped
	cmu sync.Mutex      // the close asked for
	cst websocket.StatusCode
	crs string
	end bool // Serve's goroutines are finishing: Close does nothing

	handle func(websocket.MessageType, []byte) error
	done   func(error)
}

// aLongTimeAgo is a read deadline that wakes the waiting goroutine.
var aLongTimeAgo = time.Unix(1, 0)

// AcceptIdleWS is AcceptWSSlot for a connection served with Serve: it
// checks the Origin, takes a slot with acquire and upgrades (on failure
// it has answered and ok is false). The heartbeat follows k; each Write
// must finish within writeTimeout (0: no limit) or the connection
// closes. The caller must call release once the connection is done.
func AcceptIdleWS(w http.ResponseWriter, r *http.Request, p *Origins, acquire func(http.ResponseWriter, *http.Request) (func(), bool), k Keepalive, writeTimeout time.Duration) (ws *IdleWS, release func(), ok bool) {
	if !p.Trusted(r) {
		AcceptWS(w, r, p, nil) // answers 403
		return nil, nil, false
	}
	if release, ok = acquire(w, r); !ok {
		return nil, nil, false
	}
	ws = &IdleWS{k: k, wd: writeDeadline{timeout: writeTimeout}}
	c, err := websocket.Accept(closeReasonCheck{w, ws}, r, &websocket.AcceptOptions{OriginPatterns: p.WSPatterns()})
	if err != nil {
		release()
		return nil, nil, false
	}
	if ws.raw == nil { // not hijacked through closeReasonCheck (cannot happen with net/http)
		c.CloseNow()
		release()
		return nil, nil, false
	}
	ws.Conn = c
	return ws, release, true
}

// Write writes p as one message (a single frame) of type typ within the
// write timeout (half to all of it: writeDeadline); a write that does
// not finish in time closes the connection and returns ErrWriteTimeout.
// The frame is written here, header and payload in one writev, not
// through coder/websocket's buffered writer, so the connection keeps no
// write buffer of its own between messages (coder/websocket's, for its
// control frames, is small).
func (ws *IdleWS) Write(typ websocket.MessageType, p []byte) error {
	var hdr [10]byte
	hdr[0] = 0x80 | byte(typ) // FIN; opcode 1 (text) or 2 (binary), as MessageType
	n := 2
	switch l := len(p); {
	case l < 126:
		hdr[1] = byte(l)
	case l <= 0xffff:
		hdr[1] = 126
		binary.BigEndian.PutUint16(hdr[2:], uint16(l))
		n = 4
	default:
		hdr[1] = 127
		binary.BigEndian.PutUint64(hdr[2:], uint64(l))
		n = 10
	}
	ws.wmu.Lock()
	defer ws.wmu.Unlock()
	if ws.wcl {
		return net.ErrClosed
	}
	ws.wd.before(ws.raw)
	var err error
	if _, ok := ws.raw.(*net.TCPConn); ok {
		ws.iov = [2][]byte{hdr[:n], p}
		bufs := net.Buffers(ws.iov[:])
		_, err = bufs.WriteTo(ws.raw) // one writev: a frame of coder/websocket's (one write) cannot come between
		ws.iov = [2][]byte{}
	} else { // TLS: one Write of the whole frame, for the same reason
		_, err = ws.raw.Write(append(hdr[:n:n], p...))
	}
	if err != nil {
		ws.wcl = true
		ws.Conn.CloseNow()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("%w: %w", ErrWriteTimeout, err)
		}
		return fmt.Errorf("httpx: websocket write: %w", err)
	}
	return nil
}

// Close asks Serve's goroutine to close the connection with code and
// reason (the first such call wins) and returns at once.
func (ws *IdleWS) Close(code websocket.StatusCode, reason string) {
	ws.cmu.Lock()
	defer ws.cmu.Unlock()
	if ws.end || ws.cst != 0 {
		return
	}
	ws.cst, ws.crs = code, reason
	ws.raw.SetReadDeadline(aLongTimeAgo) // wakes the waiting goroutine
}

// End ends the connection from a goroutine other than Serve's: with the
// status a Close asked for (Serve's goroutine sends it), else at once.
func (ws *IdleWS) End() {
	ws.cmu.Lock()
	asked := ws.cst != 0
	ws.cmu.Unlock()
	if !asked {
		ws.Conn.CloseNow()
	}
}

// Serve starts the heartbeat and a goroutine that reads the messages one
// at a time and calls handle with each; when reading or handle fails (or
// Close or the connection's end wakes it) it closes the connection and
// calls done with the error, from that goroutine. Call Serve once, after
// whatever is deep (the first writes) is done in the caller's goroutine.
func (ws *IdleWS) Serve(handle func(websocket.MessageType, []byte) error, done func(error)) {
	ws.handle, ws.done = handle, done
	ws.hmu.Lock()
	ws.hb = time.AfterFunc(ws.k.PingInterval, ws.beat)
	ws.hmu.Unlock()
	go ws.wait()
}

// wait waits for a message, reads and handles it, and hands the waiting
// on to a fresh goroutine: a goroutine that has grown its stack in a
// message's handling does not stay parked with it.
func (ws *IdleWS) wait() {
	err := ws.ready()
	if err == nil {
		ws.reader()
		ws.wmu.Lock() // the read may answer a ping or a close
		ws.wd.before(ws.raw)
		ws.wmu.Unlock()
		var typ websocket.MessageType
		var p []byte
		typ, p, err = ws.Conn.Read(context.Background()) // no Done: no AfterFunc per read
		if err == nil {
			err = ws.handle(typ, p)
		}
		if err == nil {
			go ws.wait()
			return
		}
	}
	ws.finish(err)
}

// ready waits until a read of coder/websocket would not block on the
// connection: bytes are buffered, or the connection has failed. While it
// waits, the reader's buffer is dropped (an idle connection holds none)
// and the goroutine parks in WaitReadable; a pong taken by closeCheckConn
// sends it back to waiting.
func (ws *IdleWS) ready() error {
	for {
		if ws.br.Buffered() > 0 || ws.cc.pending() {
			return nil
		}
		*ws.br = bufio.Reader{} // nothing buffered: let the buffer go
		if err := WaitReadable(ws.raw); err != nil {
			return err
		}
		if err := ws.cc.fillOnce(); err != nil {
			return err
		}
	}
}

// reader gives coder/websocket's reader its buffer back, reading from cc
// (where coder/websocket's reader of the handshake's bytes ends up too,
// once they are read).
func (ws *IdleWS) reader() {
	if ws.br.Size() == 0 {
		*ws.br = *bufio.NewReaderSize(ws.cc, wsReadBuffer)
	}
}

func (ws *IdleWS) finish(err error) {
	ws.hmu.Lock()
	ws.hbs = true
	ws.hb.Stop()
	ws.hmu.Unlock()
	ws.cmu.Lock()
	ws.end = true
	code, reason := ws.cst, ws.crs
	ws.cmu.Unlock()
	ws.wmu.Lock()
	ws.wcl = true // no data frame after the close frame
	ws.wd.before(ws.raw)
	ws.wmu.Unlock()
	switch {
	case code != 0:
		ws.raw.SetReadDeadline(time.Time{}) // for the close handshake
		ws.reader()
		ws.Conn.Close(code, reason)
	case websocket.CloseStatus(err) == -1:
		ws.Conn.CloseNow()
	}
	ws.done(err)
}

// pingFrame is an unmasked ping without payload (RFC 6455 §5.5.2).
var pingFrame = [2]byte{0x89, 0x00}

// beat sends a ping, or closes a connection whose last ping went
// unanswered for PingTimeout.
func (ws *IdleWS) beat() {
	ws.hmu.Lock()
	if ws.hbs {
		ws.hmu.Unlock()
		return
	}
	if ws.out {
		ws.hmu.Unlock()
		if ws.k.Logf != nil {
			ws.k.Logf("ws: dropping a dead peer: no pong within %v", ws.k.PingTimeout)
		}
		ws.Conn.CloseNow()
		return
	}
	ws.out = true
	ws.hb.Reset(ws.k.PingTimeout)
	ws.hmu.Unlock()
	// One write of the whole frame: coder/websocket's own control frames
	// (a close, a pong) are one write of its buffer too, so they cannot
	// interleave; its data frames are written under wmu.
	ws.wmu.Lock()
	if !ws.wcl {
		ws.wd.before(ws.raw)
		if _, err := ws.raw.Write(pingFrame[:]); err != nil {
			ws.wcl = true // a torn frame may be out: nothing may follow it
			ws.Conn.CloseNow()
		}
	}
	ws.wmu.Unlock()
}

// pong takes a client pong (solicited or not, RFC 6455 §5.5.3): the peer
// is alive; the next ping is due PingInterval from now.
func (ws *IdleWS) pong() {
	ws.hmu.Lock()
	defer ws.hmu.Unlock()
	if ws.hb == nil || ws.hbs {
		return
	}
	ws.out = false
	ws.hb.Reset(ws.k.PingInterval)
}
