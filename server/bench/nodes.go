//go:build !js

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cometwasm/comet/server/internal/redisproc"
	"github.com/cometwasm/comet/server/internal/serverproc"
)

// nodesSubscribers is how many WebSocket subscribers the fan-out holds,
// spread over the nodes.
const nodesSubscribers = 10000

// nodes measures the broker under many nodes: publish throughput and
// fan-out latency to 10,000 subscribers, for the in-memory broker (one
// node: nodes on it share nothing) and for Redis with one and with three
// nodes, in one run.
func (b *bench) nodes(ctx context.Context, sec *section) error {
	rd, err := redisproc.Start(redisproc.Config{})
	if err != nil {
		return err
	}
	defer rd.Close()
	public := b.work + "/nodes-public"
	if err := os.MkdirAll(public, 0o755); err != nil {
		return err
	}
	n := nodesSubscribers
	if limit := fileLimit(); uint64(n)+500 > limit {
		n = int(limit) - 500
	}
	const publishes, workers = 5000, 32
	sec.printf("\nOne redis-server (Debian's, no persistence) on a free loopback port; comet nodes are the server binary with `-broker redis://…`, each its own process. **Publish throughput**: %d single-message POST /realtime/publish from %d concurrent clients, round robin over the nodes, to one topic nobody follows (the broker's append path alone). **Fan-out**: %d raw WebSocket subscribers (the capacity section's minimal reader) on one topic, spread evenly over the nodes; one POST to one node (round robin); latency = arrival at each subscriber − the moment before the POST; p50/p99 over all subscribers. %d runs of each, median shown. The in-memory broker serves one node: two memory nodes share nothing, so a message published on one never reaches the other's subscribers.\n",
		publishes, workers, n, b.runs)

	setups := []struct {
		name  string
		nodes int
		redis bool
	}{
		{"memory (embedded)", 1, false},
		{"Redis", 1, true},
		{"Redis", 3, true},
	}
	var rows [][]string
	for _, s := range setups {
		if _, err := rd.Do(ctx, "FLUSHALL"); err != nil {
			return err
		}
		args := []string{"-addr2", "", "-max-streams", "30000", "-max-streams-per-ip", "30000", "-public", public}
		if s.redis {
			args = append(args, "-broker", rd.URL(0))
		}
		var procs []*serverproc.Proc
		stopAll := func() {
			for _, p := range procs {
				p.Stop()
			}
		}
		for range s.nodes {
			p, err := b.startServer(ctx, args...)
			if err != nil {
				stopAll()
				return err
			}
			procs = append(procs, p)
		}
		var origins []string
		for _, p := range procs {
			origins = append(origins, p.Page)
		}
		logf("nodes: %s × %d", s.name, s.nodes)
		var rates []float64
		for r := 0; r < b.runs; r++ {
			rate, err := publishRate(ctx, origins, fmt.Sprintf("thr-%d", r), publishes, workers)
			if err != nil {
				stopAll()
				return err
			}
			rates = append(rates, rate)
		}
		p50s, p99s, held, delivered, err := fanOut(ctx, origins, n, b.runs)
		stopAll()
		if err != nil {
			return err
		}
		logf("nodes: %s × %d: %.0f publishes/s; fan-out to %d: p50 %s p99 %s", s.name, s.nodes, median(rates), held, fmtMs(p50s), fmtMs(p99s))
		rows = append(rows, []string{s.name, fmt.Sprint(s.nodes), fmt.Sprintf("%.0f /s", median(rates)),
			fmt.Sprintf("%d of %d", held, n), fmt.Sprint(delivered), ms(median(p50s)), ms(median(p99s))})
	}
	sec.table([]string{"broker", "nodes", "publish throughput", "subscribers held", "fewest delivered per broadcast", "fan-out p50", "fan-out p99"}, rows)
	return nil
}

// publishRate sends count publishes from workers goroutines round robin
// over origins and returns publishes per second.
func publishRate(ctx context.Context, origins []string, topic string, count, workers int) (float64, error) {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	defer client.CloseIdleConnections()
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= count || ctx.Err() != nil {
					return
				}
				body, _ := json.Marshal(map[string]any{"topic": topic, "type": "message", "data": map[string]int{"i": i}})
				origin := origins[i%len(origins)]
				req, _ := http.NewRequestWithContext(ctx, "POST", origin+"/realtime/publish", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = fmt.Errorf("publish: %s", resp.Status)
					}
				}
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return 0, firstErr
	}
	return float64(count) / time.Since(start).Seconds(), nil
}

// fanOut holds n WebSocket subscribers spread over origins and times runs
// broadcasts, each published on the next node. delivered is the fewest
// subscribers one broadcast reached within 15s.
func fanOut(ctx context.Context, origins []string, n, runs int) (p50s, p99s []float64, held, delivered int, err error) {
	topic := "fanout"
	cur, err := publish(ctx, origins[0], topic, []map[string]any{{"type": "start", "data": nil}})
	if err != nil {
		return nil, nil, 0, 0, err
	}
	var k atomic.Int64
	clients, dialErr := holdClients(ctx, n, func(ctx context.Context) (*capClient, error) {
		host := strings.TrimPrefix(origins[int(k.Add(1))%len(origins)], "http://")
		return dialWS(ctx, host, "/ws/realtime?topic="+topic+"&cursor="+cur)
	})
	defer func() {
		for _, c := range clients {
			c.close()
		}
	}()
	held = len(clients)
	if held < n && dialErr != nil {
		logf("nodes: held %d of %d: %v", held, n, dialErr)
	}
	time.Sleep(2 * time.Second) // every subscription attached
	delivered = held
	for r := 0; r < runs && held > 0; r++ {
		start := time.Now()
		data, _ := json.Marshal(benchData{T: start.UnixNano(), I: r})
		if _, err := publish(ctx, origins[r%len(origins)], topic, []map[string]any{{"type": "message", "data": json.RawMessage(data)}}); err != nil {
			return nil, nil, held, 0, err
		}
		// Wait for every subscriber (up to 15s), so one that never gets
		// the broadcast does not hide those after it.
		lat := make([]float64, 0, held)
		wait, cancel := context.WithTimeout(ctx, 15*time.Second)
		missed := 0
		for _, c := range clients {
			var at time.Time
			select {
			case at = <-c.got:
			default:
				select {
				case at = <-c.got:
				case <-wait.Done():
				}
			}
			if at.IsZero() {
				missed++
				continue
			}
			lat = append(lat, float64(at.Sub(start).Microseconds())/1000)
		}
		cancel()
		delivered = min(delivered, len(lat))
		if missed > 0 {
			logf("nodes: run %d: %d of %d subscribers got the broadcast within 15s", r, len(lat), held)
		}
		if len(lat) > 0 {
			p50s = append(p50s, percentile(lat, 50))
			p99s = append(p99s, percentile(lat, 99))
		}
		// Drop late arrivals so they cannot count for the next run.
		time.Sleep(500 * time.Millisecond)
		for _, c := range clients {
			for len(c.got) > 0 {
				<-c.got
			}
		}
	}
	return p50s, p99s, held, delivered, nil
}
