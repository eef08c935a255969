package wire_test

import (
	"fmt"

	"github.com/cometwasm/comet/server/wire"
)

// A server frames two messages of topic number 3 and a subscribe answer;
// a client reads them back line by line.
func Example() {
	var b []byte
	b = wire.AppendFrame(b, wire.Frame{Op: wire.OpSubscribe, T: 3, Topic: "news", Cursor: wire.Cursor{Epoch: "e1", Offset: 41}})
	b = wire.AppendMessage(b, 3, "", []byte(`{"title":"hi"}`))
	b = wire.AppendMessage(b, 3, "alert", []byte(`"fire"`))
	fmt.Print(string(b))
	next := map[int]wire.Cursor{}
	wire.SplitLines(b, func(line []byte) error {
		l, err := wire.ParseLine(line)
		switch {
		case err != nil:
			return err
		case !l.IsMessage && l.Frame.Op == wire.OpSubscribe:
			next[l.Frame.T] = l.Frame.Cursor
		case l.IsMessage:
			c := next[l.T]
			c.Offset++ // offsets are implied
			next[l.T] = c
			fmt.Println(c, l.Type, string(l.Data))
		}
		return nil
	})
	// Output:
	// {"op":"sub","t":3,"topic":"news","cursor":"e1-41"}
	// 3 {"title":"hi"}
	// 3:alert "fire"
	// e1-42 message {"title":"hi"}
	// e1-43 alert "fire"
}

func ExampleParseCursor() {
	c, err := wire.ParseCursor("9f86d081884c7d65-42")
	fmt.Println(c.Epoch, c.Offset, err)
	_, err = wire.ParseCursor("not a cursor")
	fmt.Println(err)
	// Output:
	// 9f86d081884c7d65 42 <nil>
	// wire: malformed cursor
}
