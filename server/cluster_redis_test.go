//go:build !js

package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/cometwasm/comet/server/internal/browser"
	"github.com/cometwasm/comet/server/internal/redisproc"
)

// TestE2EClusterRedis runs the probe page through nginx in front of 3
// comet nodes on one Redis with the append-only file on, and faults
// Redis mid-stream: a restart loses nothing; a FLUSHALL gives every
// subscriber an explicit gap, never a silent skip.
func TestE2EClusterRedis(t *testing.T) {
	if os.Getenv("COMET_E2E") == "" {
		t.Skip("browser end-to-end test: set COMET_E2E=1 (./build.sh test does)")
	}
	rd := redisproc.ForTest(t, redisproc.Config{AppendOnly: true, Fsync: "always"})
	bin, public := buildForCluster(t)
	c := newCluster(t, bin, public, 3, "-broker", rd.URL(0))
	bctx, cancel, err := browser.New(context.Background())
	must(t, err)
	defer cancel()
	const messages = 2000

	t.Run("restart", func(t *testing.T) {
		c.t = t
		ctx, cancelRun := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancelRun()
		topic := fmt.Sprintf("redis-restart-%d", time.Now().UnixNano())
		p := c.openProbe(bctx, "default", topic, c.startSeq(ctx, topic))
		var wg sync.WaitGroup
		var restartErr error
		for seq := 1; seq <= messages; seq++ {
			if seq == messages/2 {
				p.waitCount(seq-100, 20*time.Second) // mid-stream: the subscriber is receiving
				wg.Go(func() { restartErr = rd.Restart() })
			}
			if _, err := c.publish(ctx, seq, topic, fmt.Sprintf("%s-%d", topic, seq), seq); err != nil {
				t.Fatal(err)
			}
		}
		wg.Wait()
		must(t, restartErr)
		p.waitCount(messages, 30*time.Second)
		st := p.state(true)
		d := checkDelivery(st.Seqs, messages)
		t.Logf("Redis restarted (AOF) mid-stream: %+v, %d gaps, stats %+v, switches %v", d, len(st.Gaps), st.Stats, st.Switches)
		if d.Lost != 0 || d.Duplicated != 0 || d.OutOfOrder != 0 || len(st.Gaps) != 0 {
			t.Errorf("after a Redis restart: %+v, gaps %v, err %q", d, st.Gaps, st.Err)
		}
	})

	t.Run("flush", func(t *testing.T) {
		c.t = t
		ctx, cancelRun := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancelRun()
		topic := fmt.Sprintf("redis-flush-%d", time.Now().UnixNano())
		live := c.openProbe(bctx, "default", topic, c.startSeq(ctx, topic))
		var mid string // the cursor of seq messages/4: a subscriber resuming there after the flush
		for seq := 1; seq <= messages/2; seq++ {
			cur, err := c.publish(ctx, seq, topic, fmt.Sprintf("%s-%d", topic, seq), seq)
			must(t, err)
			if seq == messages/4 {
				mid = cur
			}
		}
		live.waitCount(messages/2, 30*time.Second)
		if _, err := rd.Do(ctx, "FLUSHALL"); err != nil {
			t.Fatal(err)
		}
		late := c.openProbe(bctx, "default", topic, mid) // resumes where Redis lost the history
		for seq := messages/2 + 1; seq <= messages; seq++ {
			if _, err := c.publish(ctx, seq, topic, fmt.Sprintf("%s-%d", topic, seq), seq); err != nil {
				t.Fatal(err)
			}
		}
		for _, pr := range []struct {
			name  string
			p     *probe
			first int // the first seq it must see
		}{{"live", live, 1}, {"late", late, messages/2 + 1}} {
			want := messages - pr.first + 1
			pr.p.waitCount(want, 30*time.Second)
			st := pr.p.state(true)
			t.Logf("%s subscriber after FLUSHALL: %d messages, first %v, last %d, gaps %v", pr.name, len(st.Seqs), first(st.Seqs), st.Last, st.Gaps)
			if len(st.Gaps) == 0 {
				t.Errorf("%s: no gap after FLUSHALL", pr.name)
			}
			// Everything published after the flush arrives, in order,
			// once: the gap covers only what Redis lost.
			var after []int
			for _, s := range st.Seqs {
				if s > messages/2 {
					after = append(after, s)
				}
			}
			d := checkDelivery(shift(after, messages/2), messages/2)
			if d.Lost != 0 || d.Duplicated != 0 || d.OutOfOrder != 0 {
				t.Errorf("%s: messages published after the flush: %+v", pr.name, d)
			}
			if pr.name == "live" {
				if before := checkDelivery(st.Seqs[:min(len(st.Seqs), messages/2)], messages/2); before.Lost != 0 || before.Duplicated != 0 {
					t.Errorf("live: before the flush: %+v", before)
				}
			}
		}
	})
}

func first(s []int) any {
	if len(s) == 0 {
		return nil
	}
	return s[0]
}

// shift subtracts by from every seq.
func shift(seqs []int, by int) []int {
	out := make([]int, len(seqs))
	for i, s := range seqs {
		out[i] = s - by
	}
	return out
}
