//go:build !js

package httpx

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"testing"
)

// frame builds a masked client frame of opcode op with payload p.
func frame(op byte, p []byte, key [4]byte) []byte {
	b := []byte{0x80 | op}
	switch n := len(p); {
	case n <= 125:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	b = append(b, key[:]...)
	for i, c := range p {
		b = append(b, c^key[i%4])
	}
	return b
}

// chunky returns its data in reads of random sizes.
type chunky struct {
	b   []byte
	rnd *rand.Rand
}

func (c *chunky) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(c.b), 1+c.rnd.IntN(300))
	copy(p, c.b[:n])
	c.b = c.b[n:]
	return n, nil
}

// TestCloseCheckConn: frames pass byte-identical through every split of
// reads, except a close frame whose reason is not UTF-8, which becomes a
// 1007 close with as many '?'.
func TestCloseCheckConn(t *testing.T) {
	key := [4]byte{0x88, 0x08, 0x18, 0x80} // masked bytes that look like close opcodes
	long := bytes.Repeat([]byte{0x88}, 70000)
	var in, want []byte
	add := func(f, w []byte) { in, want = append(in, f...), append(want, w...) }
	for i := range 20 {
		p := long[:i*997%len(long)]
		add(frame(0x1, p, key), frame(0x1, p, key))
		add(frame(0x2, []byte{0x88, 0x80}, key), frame(0x2, []byte{0x88, 0x80}, key))
		add(frame(0x9, []byte("ping"), key), frame(0x9, []byte("ping"), key))
	}
	add(frame(0x8, nil, key), frame(0x8, nil, key))
	add(frame(0x8, []byte("\x03\xe8bye"), key), frame(0x8, []byte("\x03\xe8bye"), key))
	add(frame(0x8, []byte("\x03\xe8\xff\xfe"), key), frame(0x8, []byte("\x03\xef??"), key))
	add(frame(0x1, []byte("after"), key), frame(0x1, []byte("after"), key))
	// With onPong set (IdleWS), a pong is taken out of the stream; without,
	// it passes like any frame.
	pongs := 0
	var inP, wantP []byte
	for i := range 20 {
		p := long[:i*997%len(long)]
		f := frame(0x1, p, key)
		inP, wantP = append(inP, f...), append(wantP, f...)
		inP = append(inP, frame(0xa, []byte("pong")[:i%5], key)...)
		pongs++
	}
	inP = append(inP, in...)
	wantP = append(wantP, want...)
	for _, tc := range []struct {
		name     string
		in, want []byte
		onPong   bool
		pongs    int
	}{
		{"close frames", in, want, false, 0},
		{"pongs kept", inP, inP, false, 0},
		{"pongs taken", inP, wantP, true, pongs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.onPong {
				tc.want = fixClose(tc.in, in, want)
			}
			for seed := range uint64(50) {
				rnd := rand.New(rand.NewPCG(seed, 1))
				c := &closeCheckConn{src: &chunky{tc.in, rnd}}
				seen := 0
				if tc.onPong {
					c.onPong = func() { seen++ }
				}
				var got []byte
				buf := make([]byte, 1+rnd.IntN(600))
				for {
					n, err := c.Read(buf[:1+rnd.IntN(len(buf))])
					got = append(got, buf[:n]...)
					if err != nil {
						break
					}
				}
				if !bytes.Equal(got, tc.want) {
					t.Fatalf("seed %d: %d bytes out, want %d; first difference at %d", seed, len(got), len(tc.want), firstDiff(got, tc.want))
				}
				if seen != tc.pongs {
					t.Fatalf("seed %d: %d pongs taken, want %d", seed, seen, tc.pongs)
				}
			}
		})
	}
}

// fixClose is x with its tail in (the close frames' stream) replaced by
// want: the same stream as it comes out.
func fixClose(x, in, want []byte) []byte {
	if !bytes.HasSuffix(x, in) {
		return x
	}
	return append(bytes.Clone(x[:len(x)-len(in)]), want...)
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
