//go:build !js

package realtime_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/cometwasm/comet/server/internal/redisproc"
	"github.com/cometwasm/comet/server/realtime"
	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/realtime/broker/redis"
	"github.com/cometwasm/comet/server/wire"
)

// TestSessionsOnRedis: two nodes on one real Redis: sessions of every
// transport on node a, commands POSTed to node b, publishes acked once
// with their repeats, and presence across the nodes (joins, the leave of
// a dead node's member) when the Redis broker implements it.
func TestSessionsOnRedis(t *testing.T) {
	srv := redisproc.ForTest(t, redisproc.Config{})
	rb, err := redis.New(redis.Config{URL: srv.URL(0), Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rb.Close() })
	cfg := realtime.Config{Broker: rb, PresenceTTL: 3 * time.Second}
	a, b := newNode(t, cfg), newNode(t, cfg)
	_, presence := broker.Broker(rb).(broker.Presence)
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			topic := topicName(t, 0)
			q := "sub=1," + topic + ","
			if presence {
				q += ",p"
			}
			c := tr.open(t, a, b, q)
			if f := c.frame(wire.OpSubscribe); f.Topic != topic {
				t.Fatalf("sub answer %+v", f)
			}
			for i, key := range []string{"k1", "k1", "k2"} {
				c.send(wire.Command{Op: wire.OpPublish, ID: uint64(i + 1), Topic: topic, Data: json.RawMessage(`"` + key + `"`), Key: key})
			}
			var acks []wire.Frame
			var msgs []string
			for len(acks) < 3 || len(msgs) < 2 {
				l := c.next()
				switch {
				case l.IsMessage:
					msgs = append(msgs, string(l.Data))
				case l.Frame.Op == wire.OpPublish:
					acks = append(acks, l.Frame)
				case l.Frame.Op == wire.OpJoin:
				default:
					t.Fatalf("unexpected %+v", l.Frame)
				}
			}
			if acks[0].Cursor.Offset != 1 || !acks[1].Repeat || acks[1].Cursor != acks[0].Cursor || acks[2].Cursor.Offset != 2 {
				t.Fatalf("acks %+v", acks)
			}
			if len(msgs) != 2 || msgs[0] != `"k1"` || msgs[1] != `"k2"` {
				t.Fatalf("messages %v", msgs)
			}
			if c.cursors[1] != acks[2].Cursor {
				t.Fatalf("implied cursor %v, last ack %v", c.cursors[1], acks[2].Cursor)
			}
			if !presence {
				return
			}
			other := tr.open(t, b, a, "sub=1,"+topic+",,p") // on the other node
			if f := other.frame(wire.OpSubscribe); len(f.Members) != 2 {
				t.Fatalf("the second member's sub answer lists %+v", f.Members)
			}
			for {
				l := c.next()
				if !l.IsMessage && l.Frame.Op == wire.OpJoin && l.Frame.Member.Client == other.hello.Member.Client {
					break
				}
			}
			// A member of a node that died: nobody refreshes it.
			if _, err := broker.Presence(rb).Join(testCtx(t), topic, wire.Member{Client: "ghost", User: "ghost"}, 100*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			for {
				l := c.next()
				if !l.IsMessage && l.Frame.Op == wire.OpLeave && l.Frame.Member.Client == "ghost" {
					break
				}
			}
		})
	}
	if !presence {
		t.Log("the Redis broker does not implement broker.Presence yet: presence not tested on Redis")
	}
}
