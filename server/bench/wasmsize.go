//go:build !js

package main

import (
	"bytes"
	"errors"
	"os"
	"strings"
)

// wasmPackages reads a wasm binary that keeps its name section (built
// without -s) and returns the code bytes per Go package, plus the data
// section under "(data)".
func wasmPackages(file string) (map[string]int, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	if len(b) < 8 || !bytes.Equal(b[:4], []byte("\x00asm")) {
		return nil, errors.New("not a wasm binary")
	}
	r := &wasmReader{b: b[8:]}
	var imported int
	var bodies []int
	names := map[int]string{}
	out := map[string]int{}
	for len(r.b) > 0 {
		id := r.byte()
		size := int(r.uleb())
		if r.err != nil || size > len(r.b) {
			return nil, errors.New("malformed wasm section")
		}
		sec := &wasmReader{b: r.b[:size]}
		r.b = r.b[size:]
		switch id {
		case 2: // imports: count the functions
			for n := sec.uleb(); n > 0 && sec.err == nil; n-- {
				sec.name()
				sec.name()
				switch sec.byte() {
				case 0:
					sec.uleb()
					imported++
				case 1: // table
					sec.byte()
					sec.limits()
				case 2: // memory
					sec.limits()
				case 3: // global
					sec.byte()
					sec.byte()
				}
			}
		case 10: // code
			for n := sec.uleb(); n > 0 && sec.err == nil; n-- {
				l := int(sec.uleb())
				bodies = append(bodies, l)
				sec.b = sec.b[min(l, len(sec.b)):]
			}
		case 11:
			out["(data)"] += size
		case 0:
			if sec.name() != "name" {
				continue
			}
			for len(sec.b) > 0 && sec.err == nil {
				sub := sec.byte()
				l := int(sec.uleb())
				if l > len(sec.b) {
					break
				}
				s := &wasmReader{b: sec.b[:l]}
				sec.b = sec.b[l:]
				if sub != 1 {
					continue
				}
				for n := s.uleb(); n > 0 && s.err == nil; n-- {
					idx := int(s.uleb())
					names[idx] = s.name()
				}
			}
		}
	}
	for i, size := range bodies {
		out[goPackage(names[imported+i])] += size
	}
	return out, nil
}

// goPackage is the package of a function in the name section, where Go
// writes "/" as "_": "github.com_x_y.__T_.M" → "github.com/x/y". (A "_"
// in a package path also becomes "/": close enough for a size table.)
func goPackage(sym string) string {
	if sym == "" {
		return "(unnamed)"
	}
	start := 0
	if i := strings.IndexByte(sym, '_'); i > 0 && strings.Contains(sym[:i], ".") && !strings.HasSuffix(sym[:i], ".") { // a domain: github.com_...
		start = i
	}
	end := strings.IndexByte(sym[start:], '.')
	if end < 0 {
		return sym
	}
	return strings.ReplaceAll(sym[:start+end], "_", "/")
}

type wasmReader struct {
	b   []byte
	err error
}

func (r *wasmReader) byte() byte {
	if len(r.b) == 0 {
		r.err = errors.New("short")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *wasmReader) uleb() uint64 {
	var v uint64
	for shift := 0; shift < 64; shift += 7 {
		c := r.byte()
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			break
		}
	}
	return v
}

func (r *wasmReader) name() string {
	l := int(r.uleb())
	if l > len(r.b) {
		r.err = errors.New("short")
		return ""
	}
	s := string(r.b[:l])
	r.b = r.b[l:]
	return s
}

func (r *wasmReader) limits() {
	if r.byte()&1 == 1 {
		r.uleb()
	}
	r.uleb()
}
