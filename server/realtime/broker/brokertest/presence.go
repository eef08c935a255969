//go:build !js

package brokertest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/wire"
)

// presence returns b's Presence, or skips the test: a Broker need not
// implement it.
func presence(t *testing.T, b broker.Broker) broker.Presence {
	p, ok := b.(broker.Presence)
	if !ok {
		t.Skip("the broker does not implement broker.Presence")
	}
	return p
}

func clients(ms []wire.Member) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.Client)
	}
	return out
}

func testPresenceJoinLeave(t *testing.T, nb Factory) {
	p := presence(t, open(t, nb, broker.Limits{}))
	topic := Topic("who")
	for _, tc := range []struct {
		name  string
		topic string
		m     wire.Member
		ttl   time.Duration
		want  error
	}{
		{"bad topic", "a b", wire.Member{Client: "c"}, time.Hour, broker.ErrTopic},
		{"no client", topic, wire.Member{}, time.Hour, broker.ErrMember},
		{"client with space", topic, wire.Member{Client: "a b"}, time.Hour, broker.ErrMember},
		{"no ttl", topic, wire.Member{Client: "c"}, 0, broker.ErrMember},
		{"info not json", topic, wire.Member{Client: "c", Info: json.RawMessage(`{`)}, time.Hour, broker.ErrData},
	} {
		if _, err := p.Join(ctx(t), tc.topic, tc.m, tc.ttl); !errors.Is(err, tc.want) {
			t.Errorf("%s: Join err = %v, want %v", tc.name, err, tc.want)
		}
	}
	if ms, err := p.Members(ctx(t), topic); err != nil || len(ms) != 0 {
		t.Fatalf("members of a new topic = %v, %v; want none", ms, err)
	}
	for _, c := range []string{"b", "a", "c"} {
		fresh, err := p.Join(ctx(t), topic, wire.Member{Client: c, User: "u-" + c}, time.Hour)
		if err != nil || !fresh {
			t.Fatalf("Join %s = %v, %v; want new", c, fresh, err)
		}
	}
	fresh, err := p.Join(ctx(t), topic, wire.Member{Client: "a", User: "u-a2", Info: json.RawMessage(`{"x":1}`)}, time.Hour)
	if err != nil || fresh {
		t.Fatalf("a refreshing Join = %v, %v; want not new", fresh, err)
	}
	ms, err := p.Members(ctx(t), topic)
	if err != nil || !slices.Equal(clients(ms), []string{"a", "b", "c"}) {
		t.Fatalf("members = %v, %v; want a b c", ms, err)
	}
	if ms[0].User != "u-a2" || string(ms[0].Info) != `{"x":1}` {
		t.Errorf("a refresh did not replace the member: %+v", ms[0])
	}
	if was, err := p.Leave(ctx(t), topic, "b"); err != nil || !was {
		t.Fatalf("Leave b = %v, %v; want true", was, err)
	}
	if was, err := p.Leave(ctx(t), topic, "b"); err != nil || was {
		t.Fatalf("Leave b again = %v, %v; want false", was, err)
	}
	if ms, _ := p.Members(ctx(t), topic); !slices.Equal(clients(ms), []string{"a", "c"}) {
		t.Fatalf("members after leave = %v, want a c", clients(ms))
	}
	if ms, _ := p.Members(ctx(t), Topic("other")); len(ms) != 0 {
		t.Fatalf("another topic has members %v", ms)
	}
}

func testPresenceTTL(t *testing.T, nb Factory) {
	p := presence(t, open(t, nb, broker.Limits{}))
	topic := Topic("ttl")
	if _, err := p.Join(ctx(t), topic, wire.Member{Client: "stays", User: "s"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Join(ctx(t), topic, wire.Member{Client: "dies", User: "d"}, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	// A refresh with a long TTL keeps a member whose first TTL passes.
	if _, err := p.Join(ctx(t), topic, wire.Member{Client: "refreshed"}, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Join(ctx(t), topic, wire.Member{Client: "refreshed"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // past the short TTL
	ms, err := p.Members(ctx(t), topic)
	if err != nil || !slices.Equal(clients(ms), []string{"refreshed", "stays"}) {
		t.Fatalf("members past a TTL = %v, %v; want refreshed stays", clients(ms), err)
	}
	gone, err := p.Expire(ctx(t), topic)
	if err != nil || !slices.Equal(clients(gone), []string{"dies"}) || gone[0].User != "d" {
		t.Fatalf("Expire = %+v, %v; want dies", gone, err)
	}
	if gone, err := p.Expire(ctx(t), topic); err != nil || len(gone) != 0 {
		t.Fatalf("a second Expire = %v, %v; want none", gone, err)
	}
}

func testPresenceExpireOnce(t *testing.T, nb Factory) {
	b := open(t, nb, broker.Limits{})
	p := presence(t, b)
	topic := Topic("expire")
	const n = 50
	for i := range n {
		if _, err := p.Join(ctx(t), topic, wire.Member{Client: fmt.Sprint("c", i)}, 10*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(60 * time.Millisecond)
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 4 { // four nodes sweeping at once
		wg.Go(func() {
			gone, err := p.Expire(ctx(t), topic)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			for _, m := range gone {
				seen[m.Client]++
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("expired %d members, want %d", len(seen), n)
	}
	for c, k := range seen {
		if k != 1 {
			t.Errorf("%s expired by %d sweeps, want 1", c, k)
		}
	}
}
