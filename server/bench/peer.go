//go:build !js

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cometwasm/comet/server/wire"
)

// The peer section: comet's server against Centrifugo on the same
// machine, driven by the same load generator (the raw clients of
// capacity.go), in interleaved rounds.

// peerServer is one running server of either system.
type peerServer struct {
	pid  int
	host string // 127.0.0.1:port
	stop func()
}

// peerPos is a position in a topic to resume after.
type peerPos struct {
	epoch  string
	offset uint64
}

// peerPub is one publication as a subscriber got it.
type peerPub struct {
	i      int // the payload's sequence number
	offset uint64
}

// peerSystem is what the load generator needs from a system.
type peerSystem interface {
	name() string
	start(ctx context.Context) (*peerServer, error)
	// marker is a substring of every WS message ("ws") or SSE event
	// ("sse") that carries a publication, and of no other.
	marker(transport string) string
	// dialWS subscribes to topic (after pos, when set) and returns once
	// the subscription exists.
	dialWS(ctx context.Context, s *peerServer, topic string, pos *peerPos, fn onMsg) (*capClient, error)
	dialSSE(ctx context.Context, s *peerServer, topic string, fn onMsg) (*capClient, error)
	// publisher returns a func that publishes one message over HTTP,
	// with up to conns keep-alive connections.
	publisher(s *peerServer, conns int) func(ctx context.Context, topic string, data []byte) error
	// decode returns the publications in one WS message, and its epoch
	// when it names one.
	decode(p []byte) ([]peerPub, string, error)
}

// Sizes of the peer section.
const (
	peerPayloadSize = 64               // bytes of JSON data per published message
	peerBroadcasts  = 8                // fan-out broadcasts per round and system
	peerCollect     = 10 * time.Second // how long a broadcast waits for its deliveries
	peerTputSubs    = 100              // subscribers during the publish throughput test
	peerTputMsgs    = 2000             // messages published in it, per system
	peerTputBursts  = 4                // in bursts, alternating between the systems
	peerTputConns   = 16               // concurrent HTTP publishers
	peerMissed      = 20               // messages published while the resume check's subscriber is away
	// peerBudget bounds the measuring (the build aside); a round that
	// would not fit is not started.
	peerBudget = 8 * time.Minute
)

// peerPayload is the data of message i: {"t":unix ns,"i":i,"p":"xx…"},
// exactly peerPayloadSize bytes.
func peerPayload(i int) []byte {
	head := fmt.Sprintf(`{"t":%d,"i":%d,"p":"`, time.Now().UnixNano(), i)
	return []byte(head + strings.Repeat("x", max(0, peerPayloadSize-len(head)-2)) + `"}`)
}

// payloadIndex reads i from a payload.
func payloadIndex(data []byte) (int, error) {
	var d struct {
		I *int `json:"i"`
	}
	if err := json.Unmarshal(data, &d); err != nil || d.I == nil {
		return 0, fmt.Errorf("payload %q: not a bench payload", data)
	}
	return *d.I, nil
}

// cometPeer is comet's server (the binary the bench built) over its
// single-topic transports: WebSocket /ws/realtime, SSE /realtime/sse and
// POST /realtime/publish. The section runs it for reference only.
type cometPeer struct{ b *bench }

func (*cometPeer) name() string { return "comet single-topic (reference)" }

func (p *cometPeer) start(ctx context.Context) (*peerServer, error) {
	srv, err := p.b.startServer(ctx, "-public", p.b.work, "-max-streams", "30000", "-max-streams-per-ip", "30000")
	if err != nil {
		return nil, err
	}
	return &peerServer{pid: srv.PID(), host: strings.TrimPrefix(srv.Page, "http://"), stop: srv.Stop}, nil
}

func (*cometPeer) marker(transport string) string {
	if transport == "sse" {
		return "event: message"
	}
	return `"type":"message"`
}

func (*cometPeer) dialWS(ctx context.Context, s *peerServer, topic string, pos *peerPos, fn onMsg) (*capClient, error) {
	path := "/ws/realtime?topic=" + topic
	if pos != nil {
		path += "&cursor=" + pos.epoch + "-" + strconv.FormatUint(pos.offset, 10)
	}
	ready := func(p []byte) (bool, error) {
		if strings.Contains(string(p), `"type":"_gap"`) {
			return false, fmt.Errorf("comet: %s", p)
		}
		return strings.Contains(string(p), `"type":"_open"`), nil
	}
	return dialWSUntil(ctx, s.host, path, nil, ready, fn)
}

func (*cometPeer) dialSSE(ctx context.Context, s *peerServer, topic string, fn onMsg) (*capClient, error) {
	return dialSSEFunc(ctx, s.host, "/realtime/sse?topic="+topic, []byte("event: _open"), fn)
}

func (*cometPeer) publisher(s *peerServer, conns int) func(ctx context.Context, topic string, data []byte) error {
	hc := keepAliveClient(conns)
	origin := "http://" + s.host
	return func(ctx context.Context, topic string, data []byte) error {
		body, _ := json.Marshal(map[string]any{"topic": topic, "type": "message", "data": json.RawMessage(data)})
		req, err := newJSONRequest(ctx, origin+"/realtime/publish", body)
		if err != nil {
			return err
		}
		req.Header.Set("Origin", origin)
		_, err = doRequest(hc, req)
		return err
	}
}

func (*cometPeer) decode(p []byte) ([]peerPub, string, error) {
	var m struct {
		Offset uint64          `json:"offset"`
		Epoch  string          `json:"epoch"`
		Type   string          `json:"type"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(p, &m); err != nil {
		return nil, "", err
	}
	if m.Type != "message" {
		return nil, m.Epoch, nil
	}
	i, err := payloadIndex(m.Data)
	if err != nil {
		return nil, "", err
	}
	return []peerPub{{i: i, offset: m.Offset}}, m.Epoch, nil
}

// dialWSUntil opens a WebSocket, sends hello (unless nil) as one text
// message, and returns once ready reports true for a message (or its
// error). Every message, the ready one included, goes to fn.
func dialWSUntil(ctx context.Context, host, path string, hello []byte, ready func(p []byte) (bool, error), fn onMsg) (*capClient, error) {
	var once atomic.Bool
	replied := make(chan error, 1)
	c, err := dialWSFunc(ctx, host, path, func(c *capClient, p []byte, wire int, at time.Time) {
		if !once.Load() {
			if ok, err := ready(p); ok || err != nil {
				once.Store(true)
				replied <- err
			}
		}
		fn(c, p, wire, at)
	})
	if err != nil {
		return nil, err
	}
	if hello != nil {
		if err := c.writeWS(0x1, hello); err != nil {
			c.close()
			return nil, err
		}
	}
	select {
	case err = <-replied:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// peerRound is one system's figures in one round.
type peerRound struct {
	wsHeld, sseHeld   int
	wsMem, sseMem     float64 // server RSS bytes per idle connection
	p50, p99          float64 // ms, median over the broadcasts
	cpuPer            float64 // server CPU µs per delivery
	delivered, wanted int
	wsWire, sseWire   float64 // wire bytes per message beyond the payload
	uniHeld           int     // uni-directional WebSocket (Centrifugo only)
	uniMem, uniWire   float64
	tput              float64 // msg/s
	resume            string
	resumeOK          bool
	resumeRan         bool // false: cut short by the section's deadline
	errs              []string
}

func (r *peerRound) fail(what string, err error) {
	logf("peer: %s: %v", what, err)
	r.errs = append(r.errs, what+": "+err.Error())
}

// peer runs the section.
func (b *bench) peer(ctx context.Context, sec *section) error {
	n := min(b.peerN, int(fileLimit())-300)
	sec.printf("\nThe peer is [Centrifugo](https://github.com/centrifugal/centrifugo) %s, built for this run from the Go module proxy (`go install %s@%s` in a temp folder outside this module, cached under %s); nothing of it is in this repository or its go.mod.", centrifugoVersion, centrifugoModule, centrifugoVersion, os.TempDir())
	bin, built, err := buildCentrifugo(ctx)
	if err != nil {
		why := err.Error()
		if len(why) > 400 {
			why = why[:400] + "…"
		}
		sec.printf(" **It could not be built, so the section is skipped:** `%s`.\n", strings.ReplaceAll(why, "`", "'"))
		skipped := "skipped: Centrifugo " + centrifugoVersion + " could not be built"
		for _, t := range peerTargets {
			sec.missing(t.name, t.want, skipped)
		}
		sec.missing("memory per idle WS connection, comet (absolute)", "≤ 16 KiB", skipped)
		sec.missing("resume after a disconnect, both systems", "exactly the missed messages", skipped)
		return nil
	}
	if built > 0 {
		sec.printf(" Built in %s.", built.Round(time.Second))
	} else {
		sec.printf(" The cached binary was used.")
	}
	ctx, cancel := context.WithTimeout(ctx, peerBudget) // the measuring, the build aside
	defer cancel()
	// comet's session protocol against Centrifugo's bidirectional one (the
	// targets), and comet's single-topic transports for reference (round
	// 1 only).
	systems := []peerSystem{&cometSessionPeer{cometPeer: cometPeer{b}}, newCentrifugo(bin, b.work), &cometPeer{b}}
	sec.printf("\n\nCentrifugo runs with a generated config on a free 127.0.0.1 port: anonymous connections without a token (`client.allow_anonymous_connect_without_token`; the channels allow subscribing for anonymous clients), history of 1,000 publications for 5 min with `force_recovery`, `uni_sse` and `uni_websocket` on, the HTTP API with a random key, its defaults otherwise (JSON protocol, ping every 25 s, memory engine). comet's server runs with its defaults (history of 1,024 messages per topic, WebSocket ping every 15 s, memory broker) and the stream limits raised to 30,000, as in the capacity section.\n\n"+
		"One load generator speaks both protocols with the raw clients of the capacity section (a minimal WebSocket / SSE reader, one goroutine per connection, in the bench process). **comet** (the rows and ratios with targets) is comet's session protocol, the match of Centrifugo's multiplexed bidirectional one: WebSocket `/realtime/session/ws?sub=1,TOPIC` and SSE `/realtime/session/sse?sub=1,TOPIC` (the subscription in the URL; a message is the line `1 DATA`, its offset implied; several lines to a frame or event when more are queued, at most 32 KiB), the resume check with `sub=1,TOPIC,EPOCH-OFFSET`. **comet single-topic (reference)**, no target, first round only: `/ws/realtime?topic=` (one topic per connection, envelope `{topic, offset, epoch, type, data}` per frame) and `/realtime/sse?topic=`. Both publish with `POST /realtime/publish`. **Centrifugo**: its bidirectional JSON protocol on `/connection/websocket` (connect and subscribe in one frame), uni-directional SSE `/connection/uni_sse?cf_connect={\"subs\":{TOPIC:{}}}` and `POST /api/publish` with `X-API-Key`. Every published message carries the same %d-byte JSON data. Each round:\n\n"+
		"1. **WebSocket**, every system's server up at once (fresh processes): %d idle WS subscribers to one topic on comet, then on Centrifugo (then on comet single-topic); memory per connection = (the server's VmRSS with them − its VmRSS before) / N, 1 s after the last connected. Then %d broadcasts to each, alternating comet, Centrifugo, comet, … (one HTTP publish each, 200 ms apart): latency = arrival at each subscriber − the moment before the publish (a delivery missing after %s counts as %s); server CPU per delivery = (utime + stime of that server, from /proc/PID/stat, from before each publish to its last delivery) / deliveries. Bytes per message = the WebSocket frame (header included) that carried it (a frame of several lines: its share per line), minus the %d-byte data.\n"+
		"2. **Publish throughput**, on the same two servers: %d WS subscribers on each; %d messages per system in %d bursts, alternating between the systems, each published by %d concurrent HTTP keep-alive publishers; a burst ends when every subscriber has all its messages; rate = messages / the sum of the bursts' times.\n"+
		"3. **Resume**, on the same servers: a WS subscriber gets 5 messages, disconnects; %d are published; it reconnects from its last position (comet: `sub=1,TOPIC,EPOCH-OFFSET`, single-topic `cursor=EPOCH-OFFSET`; Centrifugo: subscribe with `recover`, `epoch`, `offset`); one live message follows. Passed when it gets exactly the %d missed ones, in order, then the live one, and nothing else.\n"+
		"4. **Idle SSE memory**: %d SSE subscribers on a fresh server process of each system in turn, measured as for WS; one broadcast gives the bytes of the SSE event that carried it.\n"+
		"5. For reference (no target), Centrifugo's uni-directional WebSocket `/connection/uni_websocket?cf_connect=…`, the closer match to comet's single-topic `/ws/realtime`: %d idle connections on a fresh process, as for SSE, in the first round only.\n\n"+
		"Ratios are comet (sessions) / Centrifugo within one round; the median over rounds is the verdict. This section alone: `go run ./server/bench -only peer -out /tmp/peer.md` (`-runs` rounds, `-peer-n` subscribers).\n",
		peerPayloadSize, n, peerBroadcasts, peerCollect, peerCollect, peerPayloadSize, peerTputSubs, peerTputMsgs, peerTputBursts, peerTputConns, peerMissed, peerMissed, n, n)

	var rounds [][]*peerRound
	start, longest := time.Now(), time.Duration(0)
	for r := 0; r < b.runs; r++ {
		if left := peerBudget - time.Since(start); r > 0 && left < longest*5/4 {
			which := fmt.Sprintf("Round %d was", r+1)
			if r+1 < b.runs {
				which = fmt.Sprintf("Rounds %d to %d were", r+1, b.runs)
			}
			sec.printf("\n**%s not run**: the slowest round took %s and %s of the section's %s were left (load average %s).\n", which, longest.Round(time.Second), left.Round(time.Second), peerBudget, loadAvg())
			break
		}
		t := time.Now()
		rounds = append(rounds, nil)
		for range systems {
			rounds[r] = append(rounds[r], &peerRound{resume: "not run"})
		}
		run := systems[:2]
		if r == 0 {
			run = systems // the reference: once
		}
		logf("peer: round %d: WebSocket", r+1)
		b.peerWS(ctx, run, n, rounds[r])
		logf("peer: round %d: idle SSE", r+1)
		for i, sys := range run {
			x := rounds[r][i]
			if x.sseHeld, x.sseMem, x.sseWire, err = peerIdle(ctx, sys, n, "idle-sse", sys.dialSSE, sys.marker("sse")); err != nil {
				x.fail("SSE subscribers", err)
			}
		}
		for i, sys := range systems {
			if u, ok := sys.(uniWSDialer); ok && r == 0 { // a reference: once
				logf("peer: round %d: idle uni WS", r+1)
				x := rounds[r][i]
				if x.uniHeld, x.uniMem, x.uniWire, err = peerIdle(ctx, sys, n, "idle-uni", u.dialUniWS, sys.marker("ws")); err != nil {
					x.fail("uni WS subscribers", err)
				}
			}
		}
		longest = max(longest, time.Since(t))
	}
	writePeer(sec, systems, rounds, n)
	return nil
}

// peerSide is one system's server and subscribers within a phase.
type peerSide struct {
	sys     peerSystem
	srv     *peerServer
	res     *peerRound
	clients []*capClient
	pub     func(ctx context.Context, topic string, data []byte) error
	cpu     time.Duration
	p50s    []float64
	p99s    []float64
}

func (s *peerSide) closeClients() {
	for _, c := range s.clients {
		c.close()
	}
	s.clients = nil
}

// peerWS runs the WebSocket phase with both systems' servers up at once:
// n idle subscribers on each (memory), then the broadcasts alternating
// between the systems, then the throughput bursts alternating too, then
// the resume check on each.
func (b *bench) peerWS(ctx context.Context, systems []peerSystem, n int, res []*peerRound) {
	var sides []*peerSide
	defer func() {
		for _, s := range sides {
			s.closeClients()
			s.srv.stop()
		}
	}()
	for i, sys := range systems {
		srv, err := sys.start(ctx)
		if err != nil {
			res[i].fail("start", err)
			continue
		}
		sides = append(sides, &peerSide{sys: sys, srv: srv, res: res[i], pub: sys.publisher(srv, 1)})
	}
	const topic = "fanout"
	for _, s := range sides {
		var err error
		s.clients, s.res.wsMem, err = holdIdle(ctx, s.srv, n, func(ctx context.Context) (*capClient, error) {
			return s.sys.dialWS(ctx, s.srv, topic, nil, markIf(s.sys.marker("ws")))
		})
		s.res.wsHeld = len(s.clients)
		if err != nil {
			s.res.fail("WS subscribers", err)
		}
	}
	logf("peer: broadcasts")
	for k := 0; k < peerBroadcasts; k++ {
		for _, s := range sides {
			if len(s.clients) == 0 {
				continue
			}
			cpu0, _ := procCPU(s.srv.pid)
			start := time.Now()
			if err := s.pub(ctx, topic, peerPayload(k)); err != nil {
				s.res.fail("fan-out publish", err)
				continue
			}
			lat, _ := collect(s.clients, start, peerCollect)
			cpu1, _ := procCPU(s.srv.pid)
			s.cpu += cpu1 - cpu0
			s.res.delivered += len(lat)
			s.res.wanted += len(s.clients)
			for range len(s.clients) - len(lat) { // lost or late: counted at the timeout, not left out
				lat = append(lat, float64(peerCollect.Milliseconds()))
			}
			if len(lat) > 0 {
				s.p50s = append(s.p50s, percentile(lat, 50))
				s.p99s = append(s.p99s, percentile(lat, 99))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	for _, s := range sides {
		s.res.p50, s.res.p99 = median(s.p50s), median(s.p99s)
		if s.res.delivered > 0 {
			s.res.cpuPer = float64(s.cpu.Microseconds()) / float64(s.res.delivered)
		}
		s.res.wsWire = wireBeyond(s.clients)
		s.closeClients()
	}
	peerThroughput(ctx, sides)
	for _, s := range sides {
		s.res.resume, s.res.resumeOK = peerResume(ctx, s.sys, s.srv)
		s.res.resumeRan = ctx.Err() == nil
		if !s.res.resumeRan {
			s.res.resume = "not run: the section's time is up"
		}
	}
}

// uniWSDialer is a system with a uni-directional WebSocket beside its
// bidirectional one (Centrifugo).
type uniWSDialer interface {
	dialUniWS(ctx context.Context, s *peerServer, topic string, fn onMsg) (*capClient, error)
}

// peerIdle holds n subscribers of one kind on a fresh server process,
// measures the server's memory per connection, then broadcasts once for
// the wire bytes per message beyond the payload.
func peerIdle(ctx context.Context, sys peerSystem, n int, topic string, dial func(context.Context, *peerServer, string, onMsg) (*capClient, error), marker string) (held int, perConn, wire float64, err error) {
	srv, err := sys.start(ctx)
	if err != nil {
		return 0, 0, 0, err
	}
	defer srv.stop()
	wire = math.NaN()
	clients, perConn, err := holdIdle(ctx, srv, n, func(ctx context.Context) (*capClient, error) {
		return dial(ctx, srv, topic, markIf(marker))
	})
	defer func() {
		for _, c := range clients {
			c.close()
		}
	}()
	if len(clients) > 0 {
		start := time.Now()
		if err := sys.publisher(srv, 1)(ctx, topic, peerPayload(0)); err != nil {
			logf("peer: %s: publish: %v", topic, err)
		} else if lat, _ := collect(clients, start, 10*time.Second); len(lat) > 0 {
			wire = wireBeyond(clients)
		}
	}
	return len(clients), perConn, wire, err
}

// holdIdle opens n clients on srv and measures the server's RSS per
// client, 1 s after the last connected. The caller closes the clients.
func holdIdle(ctx context.Context, srv *peerServer, n int, dial func(context.Context) (*capClient, error)) (clients []*capClient, perConn float64, err error) {
	time.Sleep(300 * time.Millisecond)
	rss0, _ := procStatus(srv.pid, "VmRSS:")
	clients, err = holdClients(ctx, n, dial)
	time.Sleep(time.Second)
	rss1, _ := procStatus(srv.pid, "VmRSS:")
	if len(clients) > 0 {
		perConn = float64(rss1-rss0) / float64(len(clients))
	}
	return clients, perConn, err
}

// wireBeyond is the median wire size of the last message the clients
// got, beyond the payload.
func wireBeyond(clients []*capClient) float64 {
	var ws []float64
	for _, c := range clients {
		if w := c.wire.Load(); w > 0 {
			ws = append(ws, float64(w))
		}
	}
	return median(ws) - peerPayloadSize
}

// procCPU is the CPU time (utime + stime) of process pid so far.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // comm may hold spaces
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too short", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	st, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	const clockTick = 10 * time.Millisecond // USER_HZ is 100 on Linux
	return time.Duration(ut+st) * clockTick, nil
}

// peerThroughput holds peerTputSubs WS subscribers on each side, then
// runs peerTputBursts bursts per side, alternating between the sides: a
// burst publishes peerTputMsgs/peerTputBursts messages with
// peerTputConns publishers and ends when every subscriber has them all.
// A side's rate is its messages over the sum of its bursts' times.
func peerThroughput(ctx context.Context, sides []*peerSide) {
	const topic = "throughput"
	per := peerTputMsgs / peerTputBursts
	elapsed := make([]time.Duration, len(sides))
	pubs := make([]func(context.Context, string, []byte) error, len(sides))
	for i, s := range sides {
		var err error
		s.clients, err = holdClients(ctx, peerTputSubs, func(ctx context.Context) (*capClient, error) {
			return s.sys.dialWS(ctx, s.srv, topic, nil, markIf(s.sys.marker("ws")))
		})
		if err != nil {
			s.res.fail("throughput subscribers", err)
		}
		pubs[i] = s.sys.publisher(s.srv, peerTputConns)
		defer s.closeClients()
	}
	failed := make([]bool, len(sides))
	for burst := 0; burst < peerTputBursts; burst++ {
		for i, s := range sides {
			if failed[i] || len(s.clients) < peerTputSubs {
				continue
			}
			d, err := peerBurst(ctx, s.clients, pubs[i], topic, burst*per, per)
			if err != nil {
				s.res.fail("throughput", err)
				failed[i] = true
				continue
			}
			elapsed[i] += d
		}
	}
	for i, s := range sides {
		if !failed[i] && elapsed[i] > 0 {
			s.res.tput = float64(peerTputBursts*per) / elapsed[i].Seconds()
		}
	}
}

// peerBurst publishes messages from..from+count to topic and returns the
// time until every client has counted from+count messages.
func peerBurst(ctx context.Context, clients []*capClient, pub func(context.Context, string, []byte) error, topic string, from, count int) (time.Duration, error) {
	jobs := make(chan int)
	var wg sync.WaitGroup
	var pubErr atomic.Pointer[error]
	start := time.Now()
	for w := 0; w < peerTputConns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := pub(ctx, topic, peerPayload(i)); err != nil {
					pubErr.CompareAndSwap(nil, &err)
				}
			}
		}()
	}
	for i := from; i < from+count; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if e := pubErr.Load(); e != nil {
		return 0, *e
	}
	want := int64(from + count)
	deadline := time.Now().Add(20 * time.Second)
	for {
		done := 0
		for _, c := range clients {
			if c.msgs.Load() >= want {
				done++
			}
		}
		if done == len(clients) {
			return time.Since(start), nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("after 20s only %d of %d subscribers had all %d messages", done, len(clients), want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// peerResume runs the resume check and says what the subscriber got.
func peerResume(ctx context.Context, sys peerSystem, srv *peerServer) (string, bool) {
	const topic = "resume"
	var (
		mu    sync.Mutex
		got   []peerPub
		epoch string
		errs  []string
	)
	record := func(c *capClient, p []byte, wire int, at time.Time) {
		pubs, ep, err := sys.decode(p)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, err.Error())
			return
		}
		if ep != "" {
			epoch = ep
		}
		got = append(got, pubs...)
	}
	// wait until the subscriber has message i, for up to 5s.
	wait := func(i int) bool {
		for t := time.Now(); time.Since(t) < 5*time.Second; time.Sleep(5 * time.Millisecond) {
			mu.Lock()
			ok := slices.ContainsFunc(got, func(p peerPub) bool { return p.i == i })
			mu.Unlock()
			if ok {
				return true
			}
		}
		return false
	}
	pub := sys.publisher(srv, 1)
	publish := func(from, to int) error {
		for i := from; i < to; i++ {
			if err := pub(ctx, topic, peerPayload(i)); err != nil {
				return err
			}
		}
		return nil
	}
	c, err := sys.dialWS(ctx, srv, topic, nil, record)
	if err != nil {
		return "first subscribe failed: " + err.Error(), false
	}
	if err := publish(0, 5); err != nil || !wait(4) {
		c.close()
		return fmt.Sprintf("the first 5 messages did not arrive (%v)", err), false
	}
	c.close()
	mu.Lock()
	pos := peerPos{epoch: epoch, offset: got[len(got)-1].offset}
	got = nil
	mu.Unlock()
	if err := publish(5, 5+peerMissed); err != nil {
		return "publishing the missed messages: " + err.Error(), false
	}
	c, err = sys.dialWS(ctx, srv, topic, &pos, record)
	if err != nil {
		return "resubscribe failed: " + err.Error(), false
	}
	defer c.close()
	live := 5 + peerMissed
	if err := publish(live, live+1); err != nil {
		return "publishing the live message: " + err.Error(), false
	}
	wait(live)
	time.Sleep(200 * time.Millisecond) // anything stray would come now
	mu.Lock()
	defer mu.Unlock()
	var seq []int
	for _, p := range got {
		seq = append(seq, p.i)
	}
	want := make([]int, 0, peerMissed+1)
	for i := 5; i <= live; i++ {
		want = append(want, i)
	}
	if len(errs) > 0 {
		return "undecodable message: " + errs[0], false
	}
	if slices.Equal(seq, want) {
		return fmt.Sprintf("exactly the %d missed (5…%d), then the live one", peerMissed, live-1), true
	}
	return fmt.Sprintf("got %v, want 5…%d", seq, live), false
}

// peerTargets are the section's targets: comet / Centrifugo within a
// round, median over rounds.
var peerTargets = []struct {
	name, want string
	ratio      func(c, p *peerRound) float64
	limit      float64
	atMost     bool
}{
	{"server CPU per fan-out delivery, comet / Centrifugo", "≤ 0.50×", func(c, p *peerRound) float64 { return c.cpuPer / p.cpuPer }, 0.5, true},
	{"fan-out p99 to the WS subscribers, comet / Centrifugo", "≤ 1.00×", func(c, p *peerRound) float64 { return c.p99 / p.p99 }, 1, true},
	{"publish throughput over HTTP, comet / Centrifugo", "≥ 1.50×", func(c, p *peerRound) float64 { return c.tput / p.tput }, 1.5, false},
	{"memory per idle WS connection, comet / Centrifugo", "≤ 0.30×", func(c, p *peerRound) float64 { return c.wsMem / p.wsMem }, 0.3, true},
	{"memory per idle SSE connection, comet / Centrifugo", "≤ 0.25×", func(c, p *peerRound) float64 { return c.sseMem / p.sseMem }, 0.25, true},
}

// writePeer writes the figures of every round, the ratios within each
// round, and the verdicts.
func writePeer(sec *section, systems []peerSystem, rounds [][]*peerRound, n int) {
	var rows [][]string
	for r, rs := range rounds {
		for i, x := range rs {
			if i >= 2 && x.wsHeld == 0 && x.sseHeld == 0 && len(x.errs) == 0 {
				continue // the reference did not run in this round
			}
			rows = append(rows, []string{strconv.Itoa(r + 1), systems[i].name(),
				fmt.Sprintf("%.1f KiB (%d held)", x.wsMem/1024, x.wsHeld),
				fmt.Sprintf("%.1f KiB (%d held)", x.sseMem/1024, x.sseHeld),
				fmt.Sprintf("%.1f / %.1f ms", x.p50, x.p99),
				fmt.Sprintf("%.1f µs", x.cpuPer),
				fmt.Sprintf("%d of %d", x.delivered, x.wanted),
				bytesText(x.wsWire) + " / " + bytesText(x.sseWire),
				fmt.Sprintf("%.0f msg/s", x.tput),
				x.resume,
				uniText(x),
			})
			for _, e := range x.errs {
				sec.printf("\n- round %d, %s: `%s`\n", r+1, systems[i].name(), firstErr([]string{e}))
			}
		}
	}
	sec.table([]string{"round", "system", "memory per idle WS", "memory per idle SSE", fmt.Sprintf("fan-out p50 / p99 (%d WS)", n), "server CPU per delivery", "delivered", "bytes per message beyond the data (WS / SSE)", "publish throughput", "resume", "uni-directional WS: memory per idle connection, bytes beyond the data"}, rows)

	header := []string{"round"}
	for _, t := range peerTargets {
		header = append(header, strings.SplitN(t.name, ",", 2)[0])
	}
	header = append(header, "bytes beyond the data, WS", "SSE", "memory per idle WS against Centrifugo's uni WS")
	ratios := make([][]float64, len(peerTargets)+3)
	rows = nil
	for r, rs := range rounds {
		if len(rs) < 2 {
			continue
		}
		c, p := rs[0], rs[1]
		row := []string{strconv.Itoa(r + 1)}
		all := []float64{}
		for _, t := range peerTargets {
			all = append(all, t.ratio(c, p))
		}
		all = append(all, c.wsWire/p.wsWire, c.sseWire/p.sseWire, c.wsMem/p.uniMem)
		for k, v := range all {
			if v > 0 && !isInfOrNaN(v) {
				ratios[k] = append(ratios[k], v)
				row = append(row, f2(v))
			} else {
				row = append(row, "–")
			}
		}
		rows = append(rows, row)
	}
	med := []string{"**median**"}
	for _, xs := range ratios {
		med = append(med, "**"+fmtRatio(xs)+"**")
	}
	rows = append(rows, med)
	sec.printf("\nRatios comet / Centrifugo, each within one round:\n")
	sec.table(header, rows)

	for r, rs := range rounds {
		if len(rs) < 3 || rs[2].wsHeld == 0 {
			continue
		}
		var parts []string
		for _, t := range peerTargets {
			parts = append(parts, strings.SplitN(t.name, ",", 2)[0]+" "+f2(t.ratio(rs[2], rs[1])))
		}
		sec.printf("\nFor reference, comet single-topic / Centrifugo in round %d (no target): %s.\n", r+1, strings.Join(parts, "; "))
	}

	for k, t := range peerTargets {
		if len(ratios[k]) == 0 {
			sec.missing(t.name, t.want, "no round measured both systems")
			continue
		}
		m := median(ratios[k])
		met := m <= t.limit
		if !t.atMost {
			met = m >= t.limit
		}
		sec.target(t.name, t.want, fmt.Sprintf("%.2f× (median of %s)", m, plural(len(ratios[k]), "round")), met)
		if k == 3 { // memory per WS also has an absolute bound
			var abs []float64
			for _, rs := range rounds {
				if len(rs) > 0 && rs[0].wsHeld > 0 {
					abs = append(abs, rs[0].wsMem)
				}
			}
			if len(abs) > 0 {
				sec.target("memory per idle WS connection, comet (absolute)", "≤ 16 KiB", fmt.Sprintf("%.1f KiB", median(abs)/1024), median(abs) <= 16*1024)
			}
		}
	}
	for i, s := range systems {
		passed, ran, last := 0, 0, ""
		for _, rs := range rounds {
			if i < len(rs) && rs[i].resumeRan {
				ran++
				if rs[i].resumeOK {
					passed++
				}
				if last == "" || !rs[i].resumeOK { // a failure is worth showing
					last = rs[i].resume
				}
			}
		}
		name := "resume after a disconnect, " + s.name()
		if ran == 0 {
			sec.missing(name, "exactly the missed messages", "not run")
			continue
		}
		sec.target(name, "exactly the missed messages", fmt.Sprintf("%d of %s (%s)", passed, plural(ran, "round"), last), passed == ran)
	}
}

func isInfOrNaN(x float64) bool { return math.IsNaN(x) || math.IsInf(x, 0) }

// plural is "1 round", "3 rounds".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// bytesText is a byte count, or "–" when not measured.
func bytesText(x float64) string {
	if x <= 0 || isInfOrNaN(x) {
		return "–"
	}
	return fmt.Sprintf("%.0f B", x)
}

func uniText(x *peerRound) string {
	if x.uniHeld == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f KiB (%d held), %s", x.uniMem/1024, x.uniHeld, bytesText(x.uniWire))
}

// cometSessionPeer is comet's server over its session protocol, the one
// that compares with Centrifugo's bidirectional /connection/websocket:
// WebSocket /realtime/session/ws and SSE /realtime/session/sse, each
// subscribing with sub=1,TOPIC[,CURSOR] in the URL; a message is the line
// "1 DATA", several lines to a frame when more are queued. Publishing is
// the same POST /realtime/publish.
type cometSessionPeer struct {
	cometPeer
	mu   sync.Mutex
	next uint64 // decode: the offset of the next message line (resume check)
}

func (*cometSessionPeer) name() string { return "comet" }

// sessionMarker starts the line of a message of topic number 1 carrying
// a bench payload (which starts {"t":).
const sessionMarker = `1 {"t":`

func (*cometSessionPeer) marker(string) string { return sessionMarker }

// sessionReady reports the answer of the subscription, or its failure.
func sessionReady(p []byte) (bool, error) {
	for line := range bytes.Lines(p) {
		switch {
		case bytes.HasPrefix(line, []byte(`{"op":"sub"`)):
			return true, nil
		case bytes.HasPrefix(line, []byte(`{"op":"err"`)), bytes.HasPrefix(line, []byte(`{"op":"gap"`)):
			return false, fmt.Errorf("comet session: %s", bytes.TrimSpace(line))
		}
	}
	return false, nil
}

func (*cometSessionPeer) dialWS(ctx context.Context, s *peerServer, topic string, pos *peerPos, fn onMsg) (*capClient, error) {
	path := "/realtime/session/ws?sub=1," + topic
	if pos != nil {
		path += "," + pos.epoch + "-" + strconv.FormatUint(pos.offset, 10)
	}
	return dialWSUntil(ctx, s.host, path, nil, sessionReady, func(c *capClient, p []byte, wire int, at time.Time) {
		n := bytes.Count(p, []byte{'\n'}) + 1
		for line := range bytes.Lines(p) { // a frame's lines, each counted as its share of the frame
			fn(c, bytes.TrimSuffix(line, []byte{'\n'}), wire/n, at)
		}
	})
}

func (*cometSessionPeer) dialSSE(ctx context.Context, s *peerServer, topic string, fn onMsg) (*capClient, error) {
	return dialSSEFunc(ctx, s.host, "/realtime/session/sse?sub=1,"+topic, []byte(`"op":"sub"`), fn)
}

// decode reads one session line: the answer of the subscription sets the
// implied offset of the next message; a message line takes it.
func (p *cometSessionPeer) decode(line []byte) ([]peerPub, string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if bytes.HasPrefix(line, []byte(`{"op":"sub"`)) {
		var f struct {
			Cursor string `json:"cursor"`
		}
		if err := json.Unmarshal(line, &f); err != nil {
			return nil, "", err
		}
		c, err := wire.ParseCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		p.next = c.Offset + 1
		return nil, c.Epoch, nil
	}
	data, ok := bytes.CutPrefix(line, []byte("1 "))
	if !ok {
		return nil, "", nil // another frame (hello, ping)
	}
	i, err := payloadIndex(data)
	if err != nil {
		return nil, "", err
	}
	p.next++
	return []peerPub{{i: i, offset: p.next - 1}}, "", nil
}
