package wire_test

import (
	"errors"
	"testing"

	"github.com/cometwasm/comet/server/wire"
)

// FuzzCursor: ParseCursor never panics, refuses with ErrCursor, and what
// it accepts prints back to a text that parses to the same cursor.
func FuzzCursor(f *testing.F) {
	for _, s := range []string{"", "9f86d081884c7d65-42", "a-0", "-1", "a--1", "a-18446744073709551616",
		"a-18446744073709551615", "a-+1", "a-007", "é-1", "a\x00-1", "a-1\n", "a-1-2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := wire.ParseCursor(s)
		if err != nil {
			if !errors.Is(err, wire.ErrCursor) {
				t.Fatalf("ParseCursor(%q): error %v is not ErrCursor", s, err)
			}
			return
		}
		back, err := wire.ParseCursor(c.String())
		if err != nil || back != c {
			t.Fatalf("ParseCursor(%q) = %+v, whose text %q parses to %+v, %v", s, c, c.String(), back, err)
		}
		var viaText wire.Cursor
		if err := viaText.UnmarshalText([]byte(s)); err != nil || viaText != c {
			t.Fatalf("UnmarshalText(%q) = %+v, %v; ParseCursor gave %+v", s, viaText, err, c)
		}
	})
}
