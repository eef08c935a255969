//go:build !js

package redis_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/cometwasm/comet/server/internal/redisproc"
	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/realtime/broker/brokertest"
	"github.com/cometwasm/comet/server/wire"
)

// BenchmarkPublish measures the publish script through the Broker, from
// one goroutine and from 64.
func BenchmarkPublish(b *testing.B) {
	srv := redisproc.ForTest(b, redisproc.Config{})
	br := newBroker(b, srv.URL(0), broker.Limits{})
	data := json.RawMessage(`{"n":12345,"text":"hello world, this is a chat line"}`)
	for _, par := range []int{1, 64} {
		b.Run("conc="+strconv.Itoa(par), func(b *testing.B) {
			topic := brokertest.Topic("bench")
			ctx := context.Background()
			b.ReportAllocs()
			start := time.Now()
			b.SetParallelism(max(1, par/2))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := br.Publish(ctx, topic, []wire.Draft{{Data: data}}, broker.PublishOptions{}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "pub/s")
		})
	}
}

// BenchmarkFanout compares the two ways a node can hear of new messages,
// each feeding n local subscribers of one topic: PUB/SUB (the Broker's
// design: one channel per followed topic, a node-local ring) and XREAD
// BLOCK on the topic's stream (one blocking connection, the same kind of
// local fan-out). It reports deliveries per second and the latency from
// publish to each subscriber's receipt. Run it with -benchtime=1x.
func BenchmarkFanout(b *testing.B) {
	srv := redisproc.ForTest(b, redisproc.Config{})
	const msgs = 2000
	for _, design := range []string{"pubsub", "xread"} {
		for _, n := range []int{1, 100, 1000} {
			b.Run(fmt.Sprintf("%s/subs=%d", design, n), func(b *testing.B) {
				for b.Loop() {
					fanout(b, srv, design, n, msgs)
				}
			})
		}
	}
}

func fanout(b *testing.B, srv *redisproc.Server, design string, n, msgs int) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	br := newBroker(b, srv.URL(0), broker.Limits{History: msgs})
	topic := brokertest.Topic("fan")
	head, err := br.Head(ctx, topic)
	if err != nil {
		b.Fatal(err)
	}
	var next func(i int) func(context.Context) ([]wire.Message, error)
	switch design {
	case "pubsub":
		next = func(int) func(context.Context) ([]wire.Message, error) {
			sub, err := br.Subscribe(ctx, topic, head)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(sub.Close)
			return sub.Next
		}
	case "xread":
		h := newXreadHub(ctx, b, srv.URL(0), "comet:{"+topic+"}:s", topic, head.Epoch)
		next = func(int) func(context.Context) ([]wire.Message, error) { return h.reader() }
	}
	lat := make([][]time.Duration, n)
	var calls atomic.Int64 // Next calls, for deliveries per call
	var wg sync.WaitGroup
	for i := range n {
		nx := next(i)
		lat[i] = make([]time.Duration, 0, msgs)
		wg.Go(func() {
			for len(lat[i]) < msgs {
				ms, err := nx(ctx)
				if err != nil {
					b.Error(err)
					return
				}
				calls.Add(1)
				now := time.Now()
				for _, m := range ms {
					ns, _ := strconv.ParseInt(string(m.Data), 10, 64)
					lat[i] = append(lat[i], now.Sub(time.Unix(0, ns)))
				}
			}
		})
	}
	start, cpu0, rcpu0 := time.Now(), cpuTime(), procCPU(srv.PID())
	for range msgs {
		d := json.RawMessage(strconv.FormatInt(time.Now().UnixNano(), 10))
		if _, err := br.Publish(ctx, topic, []wire.Draft{{Data: d}}, broker.PublishOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
	el, cpu, rcpu := time.Since(start), cpuTime()-cpu0, procCPU(srv.PID())-rcpu0
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	if len(all) == 0 {
		b.Fatal("nothing delivered")
	}
	b.ReportMetric(float64(len(all))/el.Seconds(), "deliveries/s")
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(len(all)), "node-cpu-ns/delivery")
	b.ReportMetric(float64(rcpu.Microseconds())/float64(msgs), "redis-cpu-us/msg")
	b.ReportMetric(float64(len(all))/float64(calls.Load()), "deliveries/next")
}

// cpuTime is the CPU time this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU is the CPU time process pid used so far (from /proc, in ticks of
// 10ms).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+k) * 10 * time.Millisecond
}

// xreadHub is the alternative design, for the measurement only: one
// goroutine per topic blocks in XREAD on the stream and appends what
// arrives to a local list that the readers follow.
type xreadHub struct {
	mu   sync.Mutex
	msgs []wire.Message
	wake chan struct{}
}

func newXreadHub(ctx context.Context, b *testing.B, url, stream, topic, epoch string) *xreadHub {
	opt, err := rueidis.ParseURL(url)
	if err != nil {
		b.Fatal(err)
	}
	opt.DisableCache = true
	c, err := rueidis.NewClient(opt)
	if err != nil {
		b.Fatal(err)
	}
	h := &xreadHub{wake: make(chan struct{})}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	b.Cleanup(func() { cancel(); <-done; c.Close() })
	go func() {
		defer close(done)
		last := "0-0"
		for rctx.Err() == nil {
			res, err := c.Do(rctx, c.B().Xread().Count(1000).Block(1000).Streams().Key(stream).Id(last).Build()).AsXRead()
			if err != nil {
				continue // rueidis.Nil after the block timeout, or ctx ended
			}
			var add []wire.Message
			for _, e := range res[stream] {
				off, _ := strconv.ParseUint(e.ID[:len(e.ID)-2], 10, 64)
				add = append(add, wire.Message{Topic: topic, Epoch: epoch, Offset: off, Type: e.FieldValues["t"], Data: []byte(e.FieldValues["d"])})
				last = e.ID
			}
			h.mu.Lock()
			h.msgs = append(h.msgs, add...)
			close(h.wake)
			h.wake = make(chan struct{})
			h.mu.Unlock()
		}
	}()
	return h
}

func (h *xreadHub) reader() func(context.Context) ([]wire.Message, error) {
	i := 0
	return func(ctx context.Context) ([]wire.Message, error) {
		for {
			h.mu.Lock()
			if i < len(h.msgs) {
				out := h.msgs[i:len(h.msgs):len(h.msgs)]
				i = len(h.msgs)
				h.mu.Unlock()
				return out, nil
			}
			wake := h.wake
			h.mu.Unlock()
			select {
			case <-wake:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
}
