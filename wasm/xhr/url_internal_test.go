//go:build js && wasm

package xhr

import (
	"math/rand/v2"
	"net/url"
	"slices"
	"syscall/js"
	"testing"
)

// TestEncodeFormIsValuesEncode checks the small-code copies against the
// standard library on random forms.
func TestEncodeFormIsValuesEncode(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	alphabet := []string{"a", "b", "B", "é", " ", "&", "=", "+", "%", "/", "~", "", "\x00", "\xff", "日"}
	word := func() string {
		s := ""
		for n := r.IntN(4); n > 0; n-- {
			s += alphabet[r.IntN(len(alphabet))]
		}
		return s
	}
	for i := 0; i < 300; i++ {
		v := url.Values{}
		for n := r.IntN(12); n > 0; n-- {
			k := word()
			v[k] = nil
			for m := r.IntN(3); m > 0; m-- {
				v[k] = append(v[k], word())
			}
		}
		if got, want := encodeForm(v), v.Encode(); got != want {
			t.Fatalf("encodeForm(%q) = %q, want %q", v, got, want)
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k, k) // duplicates too
		}
		want := slices.Sorted(slices.Values(keys))
		if sortStrings(keys); !slices.Equal(keys, want) {
			t.Fatalf("sortStrings: %q, want %q", keys, want)
		}
	}
}

// TestEncodeURIComponentIsJS checks EncodeURIComponent against the
// JavaScript function on random valid UTF-8.
func TestEncodeURIComponentIsJS(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	enc := js.Global().Get("encodeURIComponent")
	for i := 0; i < 300; i++ {
		var s []rune
		for n := r.IntN(12); n > 0; n-- {
			switch r.IntN(3) {
			case 0:
				s = append(s, rune(r.IntN(0x80)))
			case 1:
				s = append(s, rune(0x80+r.IntN(0x800)))
			default:
				s = append(s, []rune("日€😀 ?&=#+%/~!*'()-_.")[r.IntN(20)])
			}
		}
		if got, want := EncodeURIComponent(string(s)), enc.Invoke(string(s)).String(); got != want {
			t.Fatalf("EncodeURIComponent(%q) = %q, want %q", string(s), got, want)
		}
	}
}

func TestParseHeaders(t *testing.T) {
	h := parseHeaders("Content-Type: text/plain \r\nx-a:1\r\n: no name\r\nno colon\r\nX-A:\t 2\t\r\nX-B: \u00a0v\u00a0\r\n")
	for _, c := range []struct {
		name string
		want []string
	}{
		{"Content-Type", []string{"text/plain"}},
		{"X-A", []string{"1", "2"}},
		{"X-B", []string{"\u00a0v\u00a0"}}, // OWS is ASCII only
	} {
		if got := h.Values(c.name); !slices.Equal(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	if len(h) != 3 {
		t.Errorf("parsed %d names, want 3: %q", len(h), h)
	}
}
