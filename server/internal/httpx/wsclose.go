//go:build !js

package httpx

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"unicode/utf8"
)

// closeReasonCheck wraps a ResponseWriter for websocket.Accept: the
// hijacked connection it hands out checks the close frames a client
// sends. RFC 6455 §8.1 makes a close reason that is not UTF-8 a failure
// (1007); coder/websocket echoes such a frame with its code as is. The
// check turns the frame into a 1007 close whose reason is the same number
// of '?' before coder/websocket reads it.
type closeReasonCheck struct{ http.ResponseWriter }

func (w closeReasonCheck) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	early, _ := brw.Reader.Peek(brw.Reader.Buffered()) // frames sent with the handshake
	cc := &closeCheckConn{Conn: conn, src: io.MultiReader(bytes.NewReader(bytes.Clone(early)), conn)}
	brw.Reader.Reset(cc)
	return cc, brw, nil
}

// closeCheckConn reads client frames (RFC 6455 §5.2) as they pass: data
// frames go through untouched; a close frame is held until complete,
// checked, and passed on.
type closeCheckConn struct {
	net.Conn
	src    io.Reader
	buf    [8 << 10]byte
	out    []byte // checked bytes not yet read
	err    error  // of src, after out
	hdr    []byte // the frame header being read
	remain uint64 // payload bytes of a data frame still to pass
	held   []byte // a close frame being read: header and payload
	want   int    // its total length
}

func (c *closeCheckConn) Read(p []byte) (int, error) {
	for len(c.out) == 0 && c.err == nil {
		n, err := c.src.Read(c.buf[:])
		c.feed(c.buf[:n])
		c.err = err
	}
	if len(c.out) == 0 {
		return 0, c.err
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	return n, nil
}

func (c *closeCheckConn) feed(b []byte) {
	for len(b) > 0 {
		switch {
		case c.remain > 0:
			k := uint64(len(b))
			if k > c.remain {
				k = c.remain
			}
			c.out = append(c.out, b[:k]...)
			c.remain -= k
			b = b[k:]
		case c.held != nil:
			k := min(c.want-len(c.held), len(b))
			c.held = append(c.held, b[:k]...)
			b = b[k:]
			if len(c.held) == c.want {
				c.out = append(c.out, checkClose(c.held, headerLenOf(c.held))...)
				c.held = nil
			}
		default:
			c.hdr = append(c.hdr, b[0])
			b = b[1:]
			if n, ok := headerLen(c.hdr); ok && len(c.hdr) == n {
				length := payloadLength(c.hdr)
				if c.hdr[0]&0x0f == 0x8 && c.hdr[1]&0x80 != 0 && length <= 125 {
					c.held, c.want = append([]byte(nil), c.hdr...), n+int(length)
					if length == 0 {
						c.out = append(c.out, c.held...)
						c.held = nil
					}
				} else {
					c.out = append(c.out, c.hdr...)
					c.remain = length
				}
				c.hdr = c.hdr[:0]
			}
		}
	}
}

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
