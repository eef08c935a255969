package wire_test

import (
	"errors"
	"testing"

	"github.com/cometwasm/comet/server/wire"
)

func TestSessionLines(t *testing.T) {
	t.Parallel()
	var b []byte
	b = wire.AppendMessage(b, 3, "", []byte(`{"x":1}`))
	b = wire.AppendMessage(b, 12, "chat", []byte(`"hi"`))
	b = wire.AppendMessage(b, 5, "a b%20c", []byte(`1`))
	b = wire.AppendFrame(b, wire.Frame{Op: wire.OpSubscribe, T: 3, Topic: "a", Cursor: wire.Cursor{Epoch: "e", Offset: 4}})
	if got := string(b[:10]); got != `3 {"x":1}`+"\n" {
		t.Fatalf("first line %q", got)
	}
	var lines []wire.Line
	err := wire.SplitLines(b, func(line []byte) error {
		l, err := wire.ParseLine(line)
		lines = append(lines, l)
		return err
	})
	if err != nil || len(lines) != 4 {
		t.Fatalf("parsed %d lines, %v", len(lines), err)
	}
	if l := lines[0]; !l.IsMessage || l.T != 3 || l.Type != wire.TypeMessage || string(l.Data) != `{"x":1}` {
		t.Errorf("line 1 = %+v", l)
	}
	if l := lines[1]; !l.IsMessage || l.T != 12 || l.Type != "chat" || string(l.Data) != `"hi"` {
		t.Errorf("line 2 = %+v", l)
	}
	if l := lines[2]; !l.IsMessage || l.T != 5 || l.Type != "a b%20c" || string(l.Data) != `1` {
		t.Errorf("line 3 (a type with a space and a percent) = %+v", l)
	}
	if f := lines[3].Frame; lines[3].IsMessage || f.Op != "sub" || f.T != 3 || f.Cursor.String() != "e-4" {
		t.Errorf("line 4 = %+v", lines[3])
	}
	for _, bad := range []string{"", "x {}", "0 1", "1025 1", "3", "3 ", "3:_open 1", "{}", "{", " 1", "3:a%2 1", "3:a%41 1"} {
		if _, err := wire.ParseLine([]byte(bad)); !errors.Is(err, wire.ErrLine) {
			t.Errorf("ParseLine(%q) = %v, want ErrLine", bad, err)
		}
	}
}

func TestMessageOverhead(t *testing.T) {
	t.Parallel()
	payload := []byte(`"0123456789012345678901234567890123456789012345678901234567890"`)
	if n := len(wire.AppendMessage(nil, 7, "", payload)) - len(payload); n > 6 {
		t.Fatalf("overhead %d bytes per message, want at most 6", n)
	}
}
