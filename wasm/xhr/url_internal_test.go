//go:build js && wasm

package xhr

import (
	"math/rand/v2"
	"net/url"
	"slices"
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
