//go:build !js

package realtime_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cometwasm/comet/server/internal/redisproc"
	"github.com/cometwasm/comet/server/realtime"
	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/realtime/broker/redis"
	"github.com/cometwasm/comet/server/wire"
)

// TestSessionPollPresence: presence over the stateless polls, across two
// nodes, on the memory broker and on Redis: a poller and a WebSocket
// member see each other join, who lists both, the poller's leave= is
// announced, and when its polls stop its member expires and the node that
// served its last poll announces the leave.
func TestSessionPollPresence(t *testing.T) {
	t.Parallel()
	cfg := realtime.Config{PresenceTTL: 1500 * time.Millisecond}
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		a, b, br := twoNodes(t, cfg)
		pollPresence(t, a, b, br)
	})
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		srv := redisproc.ForTest(t, redisproc.Config{})
		rb, err := redis.New(redis.Config{URL: srv.URL(0), Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rb.Close() })
		c := cfg
		c.Broker = rb
		pollPresence(t, newNode(t, c), newNode(t, c), rb)
	})
}

func pollPresence(t *testing.T, a, b *node, br broker.Broker) {
	const key = "0123456789abcdefghijKL" // the poller's secret
	room := topicName(t, 0)
	ws := dialWS(t, a, "sub=1,"+room+",,p", nil)
	ws.frame(wire.OpSubscribe)
	if j := ws.frame(wire.OpJoin); j.Member.Client != ws.hello.Member.Client {
		t.Fatalf("own join %+v", j)
	}

	// The first poll (node b) joins: sub, who (with the poller's own
	// member and the presence cursor), then its own join.
	ls := pollLines(t, b, "session/poll?sub=3,"+room+",,p&key="+key)
	if len(ls) != 3 || ls[0].Frame.Op != wire.OpSubscribe || ls[1].Frame.Op != wire.OpPresence || ls[2].Frame.Op != wire.OpJoin {
		t.Fatalf("first poll: %s", describe(ls))
	}
	who, join := ls[1].Frame, ls[2].Frame
	me := *who.Member
	if me.Client == "" || strings.Contains(me.Client, key) || strings.HasPrefix(me.Client, "u.") || me.User != me.Client {
		t.Fatalf("the poller's member %+v", me)
	}
	if want := []string{me.Client, ws.hello.Member.Client}; !slices.Equal(clientsOf(who.Members), sorted(want)) {
		t.Fatalf("who %v, want %v", clientsOf(who.Members), want)
	}
	if join.T != 3 || join.Member.Client != me.Client || join.Presence.IsZero() || who.Presence.IsZero() {
		t.Fatalf("own join %+v after who %+v", join, who)
	}
	if j := ws.frame(wire.OpJoin); j.Member.Client != me.Client {
		t.Fatalf("the ws member saw %+v, want the poller's join", j)
	}
	cur, pcur := ls[0].Frame.Cursor, join.Presence

	// A long poll (node a) with its presence cursor waits for an event: a
	// second ws member joins on node b.
	done := make(chan []wire.Line, 1)
	go func() {
		done <- pollLines(t, a, "session/longpoll?timeout=10000&key="+key+"&sub=3,"+room+","+cur.String()+",p&pres=3,"+pcur.String())
	}()
	time.Sleep(50 * time.Millisecond) // most likely waiting by now; the answer is the same if not
	ws2 := dialWS(t, b, "sub=1,"+room+",,p", nil)
	ws2.frame(wire.OpSubscribe)
	ls = <-done
	if len(ls) != 1 || ls[0].Frame.Op != wire.OpJoin || ls[0].Frame.Member.Client != ws2.hello.Member.Client {
		t.Fatalf("long poll: %s, want ws2's join", describe(ls))
	}
	pcur = ls[0].Frame.Presence
	ws.frame(wire.OpJoin) // ws2's

	// who= over a poll lists the three; a poll without news answers nothing.
	ls = pollLines(t, a, "session/poll?who="+room)
	if len(ls) != 1 || ls[0].Frame.Op != wire.OpPresence || len(ls[0].Frame.Members) != 3 {
		t.Fatalf("who: %s", describe(ls))
	}
	if ls := pollLines(t, b, "session/poll?key="+key+"&sub=3,"+room+","+cur.String()+",p&pres=3,"+pcur.String()); len(ls) != 0 {
		t.Fatalf("a poll without news: %s", describe(ls))
	}

	// leave= (the client unsubscribed) is announced at once.
	if ls := pollLines(t, a, "session/poll?leave="+room+"&key="+key); len(ls) != 1 || ls[0].Frame.Op != wire.OpUnsubscribe {
		t.Fatalf("leave: %s", describe(ls))
	}
	if l := ws.frame(wire.OpLeave); l.Member.Client != me.Client {
		t.Fatalf("got %+v, want the poller's leave", l)
	}

	// Polls that stop: the member expires; node b (the last poll's) sweeps
	// a topic with no session member and announces the leave.
	lone := topicName(t, 1)
	events, err := br.Subscribe(testCtx(t), "_p:"+lone, wire.Cursor{})
	if err != nil {
		t.Fatal(err)
	}
	defer events.Close()
	pollLines(t, b, "session/poll?sub=1,"+lone+",,p&key="+key)
	var seen []string
	for !slices.Contains(seen, wire.OpLeave) {
		ms, err := events.Next(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			var mem wire.Member
			if json.Unmarshal(m.Data, &mem) != nil || mem.Client != me.Client {
				t.Fatalf("event %s %s", m.Type, m.Data)
			}
			seen = append(seen, m.Type)
		}
	}
	if !slices.Equal(seen, []string{wire.OpJoin, wire.OpLeave}) {
		t.Fatalf("events of the lone poller %v", seen)
	}

	// A connection with the poller's key is the same member; one without
	// gets a key in its hello that polls can go on with.
	same := dialWS(t, a, "key="+key, nil)
	if same.hello.Member.Client != me.Client || same.hello.Key != key {
		t.Fatalf("ws with the poller's key: hello %+v, want member %+v", same.hello, me)
	}
	other := dialWS(t, b, "", nil)
	if other.hello.Key == "" || other.hello.Key == key || strings.Contains(other.hello.Member.Client, other.hello.Key) {
		t.Fatalf("hello of an anonymous ws: %+v", other.hello)
	}
	ls = pollLines(t, a, "session/poll?sub=1,"+topicName(t, 2)+",,p&key="+other.hello.Key)
	if len(ls) < 2 || ls[1].Frame.Op != wire.OpPresence || ls[1].Frame.Member.Client != other.hello.Member.Client {
		t.Fatalf("a poll with the hello's key: %s, want member %+v", describe(ls), other.hello.Member)
	}

	// Bad input: no key, a malformed key, a malformed presence cursor.
	for _, q := range []string{"sub=1," + room + ",,p", "sub=1," + room + ",,p&key=short"} {
		if ls := pollLines(t, a, "session/poll?"+q); len(ls) != 1 || ls[0].Frame.Op != wire.OpError || ls[0].Frame.Code != wire.CodeBad {
			t.Fatalf("%s: %s, want a bad err frame", q, describe(ls))
		}
	}
	if status, _ := get(t, a, "session/poll?sub=1,"+room+",,p&key="+key+"&pres=1,zz"); status != 400 {
		t.Fatalf("a malformed pres: %d, want 400", status)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestSessionPollPresenceBounded: an answer full of messages still
// refreshes the member but defers its presence frames to the next poll;
// who= takes at most 16 topics.
func TestSessionPollPresenceBounded(t *testing.T) {
	t.Parallel()
	const key = "0123456789abcdefghijKL"
	n := newNode(t, realtime.Config{SessionQueue: 1000})
	topic := topicName(t, 0)
	big := `"` + strings.Repeat("x", 98) + `"`
	batch := make([]string, 30)
	for i := range batch {
		batch[i] = big
	}
	r := publish(t, n.h.Broker(), topic, batch...)
	from := wire.Cursor{Epoch: r.Cursor.Epoch}
	q := "session/poll?key=" + key + "&sub=1," + topic + ","
	ls := pollLines(t, n, q+from.String()+",p")
	for _, l := range ls {
		if !l.IsMessage {
			t.Fatalf("a full answer has %s", describe(ls))
		}
	}
	ms, err := n.h.Broker().(broker.Presence).Members(testCtx(t), topic)
	if err != nil || len(ms) != 1 {
		t.Fatalf("members after a full answer: %v %v, want the poller", ms, err)
	}
	from.Offset += uint64(len(ls))
	var who *wire.Frame
	for polls := 0; who == nil && polls < 10; polls++ {
		ls = pollLines(t, n, q+from.String()+",p")
		for _, l := range ls {
			if l.IsMessage {
				from.Offset++
			} else if l.Frame.Op == wire.OpPresence {
				who = &l.Frame
			}
		}
	}
	if who == nil || from.Offset != 30 || len(who.Members) != 1 {
		t.Fatalf("who %+v after %d messages", who, from.Offset)
	}
	many := "session/poll?"
	for i := range 17 {
		many += "who=" + topicName(t, i) + "&"
	}
	if status, _ := get(t, n, many); status != 400 {
		t.Fatalf("17 who topics: %d, want 400", status)
	}
}
