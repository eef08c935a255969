//go:build !js

package httpx

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"unicode/utf8"
)

// closeReasonCheck wraps a ResponseWriter for websocket.Accept: the
// hijacked connection it hands out checks the close frames a client
// sends. RFC 6455 §8.1 makes a close reason that is not UTF-8 a failure
// (1007); coder/websocket echoes such a frame with its code as is. The
// check turns the frame into a 1007 close whose reason is the same number
// of '?' before coder/websocket reads it. With ws set, the connection
// is one served idle (IdleWS): the hijacked parts go to ws and client
// pongs go to ws.pong instead of coder/websocket.
type closeReasonCheck struct {
	http.ResponseWriter
	ws *IdleWS
}

func (w closeReasonCheck) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	early, _ := brw.Reader.Peek(brw.Reader.Buffered()) // frames sent with the handshake
	cc := &closeCheckConn{Conn: conn, src: conn}
	if w.ws != nil {
		cc.onPong = w.ws.pong
	}
	if len(early) > 0 {
		early = bytes.Clone(early)
		k := cc.scan(early)
		cc.out = append(early[:k:k], cc.out...)
	}
	// net/http's conn keeps brw's 4 KiB reader and writer for as long as
	// the handler runs, and never uses them after the hijack: emptying the
	// two structs (net/http holds them by pointer) frees their buffers.
	// The connection gets smaller ones: an idle connection holds them for
	// its life; client messages are small commands, and a larger write or
	// read bypasses the buffer.
	*brw.Reader, *brw.Writer = bufio.Reader{}, bufio.Writer{}
	br := bufio.NewReaderSize(cc, wsReadBuffer)
	wsize := wsWriteBuffer
	if w.ws != nil {
		w.ws.raw, w.ws.cc, w.ws.br = conn, cc, br
		wsize = wsControlBuffer // IdleWS writes its data frames itself
	}
	return cc, bufio.NewReadWriter(br, bufio.NewWriterSize(conn, wsize)), nil
}

// The buffers of a WebSocket connection (see Hijack).
const (
	wsReadBuffer  = 512
	wsWriteBuffer = 2 << 10
	// wsControlBuffer holds a whole control frame (2 + 125 bytes), so
	// that coder/websocket writes each in one write.
	wsControlBuffer = 128
)

// closeCheckConn reads client frames (RFC 6455 §5.2) as they pass, in the
// reader's own buffer: data frames go through untouched; a close frame is
// held until complete, checked, and passed on (with whatever followed it
// in the same read), from out. With onPong set, a pong frame is held the
// same way and dropped, and onPong called: coder/websocket never sees
// it, so a goroutine waiting for the next message is not woken by one.
type closeCheckConn struct {
	net.Conn
	src    io.Reader // the conn (a test's reader)
	onPong func()
	out    []byte // bytes to hand out before reading again
	err    error  // of the conn, after out (a deadline's is not kept)
	hdr    [14]byte
	nhdr   int    // bytes of the frame header being read, in hdr
	remain uint64 // payload bytes of a data frame still to pass
	held   []byte // a close frame being read: header and payload
	want   int    // its total length; 0 while its header is incomplete
}

func (c *closeCheckConn) Read(p []byte) (int, error) {
	for {
		if len(c.out) > 0 {
			n := copy(p, c.out)
			c.out = c.out[n:]
			if len(c.out) == 0 {
				c.out = nil
			}
			return n, nil
		}
		if c.err != nil || len(p) == 0 {
			return 0, c.err
		}
		n, err := c.src.Read(p)
		if err != nil && errors.Is(err, os.ErrDeadlineExceeded) && n == 0 {
			return 0, err // a wake-up (IdleWS), not the connection's end
		}
		c.err = err
		if k := c.scan(p[:n]); k > 0 {
			return k, nil
		}
	}
}

// scan follows the frames in b and returns how many of its first bytes
// pass as they are; from the first byte of a close frame on, the rest of
// b goes to held and out instead.
func (c *closeCheckConn) scan(b []byte) int {
	pass := -1 // the bytes before the first one diverted; -1: none diverted yet
	if c.held != nil {
		pass = 0
	}
	emit := func(x []byte) {
		if pass >= 0 {
			c.out = append(c.out, x...)
		}
	}
	for i := 0; i < len(b); {
		switch {
		case c.held != nil && c.want > 0: // a close frame's payload
			k := min(c.want-len(c.held), len(b)-i)
			c.held = append(c.held, b[i:i+k]...)
			i += k
			if len(c.held) == c.want {
				c.release()
			}
		case c.remain > 0: // a data frame's payload
			k := int(min(c.remain, uint64(len(b)-i)))
			emit(b[i : i+k])
			c.remain -= uint64(k)
			i += k
		default: // a frame header byte
			if c.nhdr == 0 && c.held == nil && (b[i]&0x0f == 0x8 || b[i]&0x0f == 0xa && c.onPong != nil) { // a close (or pong) frame starts
				if pass < 0 {
					pass = i
				}
				c.held = []byte{}
			}
			c.hdr[c.nhdr] = b[i]
			c.nhdr++
			if c.held != nil {
				c.held = append(c.held, b[i])
			} else {
				emit(b[i : i+1])
			}
			i++
			n, ok := headerLen(c.hdr[:c.nhdr])
			if !ok || c.nhdr < n {
				continue
			}
			h := c.hdr[:n]
			length := payloadLength(h)
			c.nhdr = 0
			switch {
			case c.held != nil && h[0]&0x80 != 0 && h[1]&0x80 != 0 && length <= 125: // whole, masked, a valid length
				c.want = n + int(length)
				if length == 0 {
					c.release()
				}
			case c.held != nil: // unmasked or too long: coder/websocket refuses it
				c.out = append(c.out, c.held...)
				c.held = nil
				c.remain = length
			default:
				c.remain = length
			}
		}
	}
	if pass < 0 {
		return len(b)
	}
	return pass
}

// release hands on the complete frame in held: a close frame checked, a
// pong to onPong.
func (c *closeCheckConn) release() {
	if c.held[0]&0x0f == 0xa {
		c.onPong()
	} else {
		c.out = append(c.out, checkClose(c.held, headerLenOf(c.held))...)
	}
	c.held, c.want = nil, 0
}

// fillOnce reads the conn once (it does not block when the conn is
// readable) and keeps what passes in out, for a reader that holds no
// buffer while idle (IdleWS.ready).
func (c *closeCheckConn) fillOnce() error {
	if c.err != nil {
		return nil
	}
	p := make([]byte, wsReadBuffer)
	n, err := c.src.Read(p)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) && n == 0 {
		return err // a wake-up, not the connection's end
	}
	c.err = err
	if k := c.scan(p[:n]); k > 0 {
		c.out = append(p[:k:k], c.out...)
	}
	return nil
}

// pending reports whether bytes wait in c to be read (so a read would
// not block).
func (c *closeCheckConn) pending() bool { return len(c.out) > 0 || c.err != nil }

func headerLenOf(h []byte) int { n, _ := headerLen(h); return n }

// headerLen is the length of the frame header starting h, once h holds
// its first two bytes.
func headerLen(h []byte) (int, bool) {
	if len(h) < 2 {
		return 0, false
	}
	n := 2
	switch h[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if h[1]&0x80 != 0 {
		n += 4
	}
	return n, true
}

func payloadLength(h []byte) uint64 {
	switch l := h[1] & 0x7f; l {
	case 126:
		return uint64(binary.BigEndian.Uint16(h[2:4]))
	case 127:
		return binary.BigEndian.Uint64(h[2:10])
	default:
		return uint64(l)
	}
}

// checkClose returns the masked close frame f (header of hl bytes) as is,
// or as a 1007 close when its reason is not UTF-8.
func checkClose(f []byte, hl int) []byte {
	key, p := f[hl-4:hl], f[hl:]
	if len(p) < 2 {
		return f
	}
	plain := make([]byte, len(p))
	for i := range p {
		plain[i] = p[i] ^ key[i%4]
	}
	if utf8.Valid(plain[2:]) {
		return f
	}
	binary.BigEndian.PutUint16(plain, 1007)
	for i := 2; i < len(plain); i++ {
		plain[i] = '?'
	}
	for i := range p {
		p[i] = plain[i] ^ key[i%4]
	}
	return f
}
