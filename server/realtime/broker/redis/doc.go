//go:build !js

// Package redis is a broker.Broker on Redis 7 or later (Debian's
// redis-server 7.0 is enough), for comet servers that run on many nodes or
// must keep their history across restarts. Every node that uses the same
// Redis (and Config.Prefix) shares the same topics.
//
// Use New with a Config to connect; pass the Broker to realtime.Config, or
// run the demo server with -broker redis://HOST:PORT/DB. It implements
// broker.Broker, broker.Presence (members shared by every node, expiring
// by Redis's clock) and broker.Resetter, and passes the conformance suite
// of package brokertest.
//
// # Data in Redis
//
// Per topic T, with the default prefix "comet:" (the braces keep a topic's
// keys in one Redis Cluster slot):
//
//	comet:{T}:m      HASH   e = epoch, h = offset of the newest message
//	comet:{T}:s      STREAM one entry per message, id "OFFSET-0", fields t (type) and d (data);
//	                        trimmed to Limits.History with exact MAXLEN
//	comet:{T}:k:KEY  STRING the Receipt of an idempotency key, PX = broker.IdempotencyWindow
//	comet:{T}        PUB/SUB channel of the nodes that follow T
//	comet:{T}:p      HASH   presence: client -> wire.Member JSON
//	comet:{T}:pe     ZSET   presence: client -> expiry in ms of Redis's clock
//
// Publish is one Lua script: check the key, start an epoch if the history
// is gone, take the offsets, XADD with MAXLEN, store the key, PUBLISH the
// messages to the nodes. Read and Head are one read script (XRANGE and the
// hash), which also starts a new epoch when the history is gone. A topic
// that never had a message expires after Config.EmptyTTL untouched, one
// with messages after Config.IdleTTL (default 7 days) that nobody
// published to, read or followed: the nodes touch the topics they follow,
// so only abandoned ones go (e.g. the internal session topic "_n:NODE" of
// a node that is gone); a reader that comes back gets an "epoch" gap.
//
// # Lost history
//
// When a topic's hash is gone (FLUSHALL, eviction, a restart without
// persistence), its stream is gone although messages had been appended, or
// its head in Redis is below the one a node had seen in the same epoch
// (writes a crash lost), the next script starts a new epoch at offset 0 and
// tells the nodes. Readers with a cursor of the old epoch get a
// *broker.GapError with reason "epoch" resuming at the new epoch: never a
// silent skip, and offsets of an epoch are never reused for other
// messages. A live subscriber learns of it with the next message published
// to the topic, or within 30s (each node checks the topics it follows
// that often) when nothing is.
//
// # Live fan-out
//
// Each node follows a topic only while it has local subscribers (plus
// Config.Linger): one SUBSCRIBE to the topic's channel, multiplexed with
// every other command and channel on the client's connections, shared by
// all local subscribers of the topic. The node subscribes first, then
// reads the topic's head: whatever is published after arrives on the
// channel, whatever was before is in the stream, so nothing falls in
// between. Notifications carry the messages; the node keeps the newest
// History of them in immutable 256-message chunks that every local
// subscription reads without a copy. A notification that skips offsets
// (or an overflowing queue) makes the node read the missing ones from the
// stream; a subscriber older than the node's memory reads the stream with
// XRANGE and gets the "evicted" gap when Redis no longer has it either.
//
// Measured on this project's 2-core machine, shared with other jobs (load
// 15-18, so the figures are noisy), 2000 messages published one at a time
// to n local subscribers of one topic (BenchmarkFanout, -benchtime=1x
// -count=3; ranges over the runs):
//
//	design   n     deliveries/s  p50 ms     p99 ms   node CPU/delivery  messages/Next
//	PUB/SUB  1     9,200-12,300  0.10-0.11  0.46-0.92  52-69 µs         1.07
//	XREAD    1     8,000-9,300   0.10-0.11  1.4-2.3    76-85 µs         1.10-1.16
//	PUB/SUB  100   831k-932k     0.27-0.29  1.7-2.2    0.75-0.86 µs     2.4-2.6
//	XREAD    100   302k-746k     0.21-0.36  1.5-5.9    0.89-1.15 µs     1.2-1.6
//	PUB/SUB  1000  0.9M-3.2M     1.6-2.1    7-37       0.20-0.49 µs     5.4-9.3
//	XREAD    1000  1.3M-4.3M     3.0-22     12-142     0.18-0.26 µs     10-12
//
// Redis spent 25-60 µs of CPU per message in every case. Both deliver to
// one subscriber in 0.1 ms. XREAD batches by itself under load (each answer
// carries what arrived during the last round trip), which is what makes
// fan-out to many readers cheap: before the follower spaced its wakes (at
// most one per readers × 2 µs, 5 ms at most) PUB/SUB woke 1000 readers once
// per message, 1.7-2.0 messages per Next and 0.9-1.2 µs per delivery. Now
// it matches XREAD's CPU with a shorter tail. PUB/SUB was chosen because a
// node follows many topics: SUBSCRIBE and UNSUBSCRIBE change a node's set
// of topics on a shared connection at any time, while a blocking XREAD
// holds a connection and follows only the streams named when it was sent
// (a new topic means interrupting it, or one connection per topic); and a
// notification carries its messages, so no node reads the stream in the
// common case.
//
// # Client
//
// github.com/redis/rueidis, chosen over github.com/redis/go-redis/v9 by
// measuring the publish script with both, same Redis, same script (a
// throwaway benchmark outside this module):
//
//	client        concurrency  publishes/s      allocs/op  B/op
//	rueidis       1            9,000-18,300     9          564-572
//	go-redis/v9   1            11,100-13,100    29         1201
//	rueidis       64           26,600-33,100    9          565-570
//	go-redis/v9   64           14,500-17,500    30         1272-1297
//
// rueidis pipelines concurrent commands on a few connections by itself
// (about twice the throughput under concurrency) and allocates a third as
// much. It also carries PUB/SUB on the same connections as commands.
//
// # Faults
//
// Every call to Redis is bounded by Config.Timeout. A Redis that refuses,
// times out, or answers LOADING, OOM and the like makes Publish, Read,
// Head, Subscribe and Health return an error matching
// broker.ErrUnavailable (the HTTP layer answers 503, /healthz reports the
// node unhealthy), and ends the live subscriptions of every topic whose
// channel was lost with ErrUnavailable from Next: transports close the
// connection and clients resubscribe from their cursor, which resumes
// without loss where Redis kept the data and with an epoch gap where it did
// not. A publish that failed may still have been applied (a hung Redis
// runs it once it continues): clients retry with an idempotency key, which
// makes the retry safe, and only such publishes (and reads) are retried
// once by the Broker itself when a connection Redis had closed fails.
//
// # Durability
//
// With the append-only file on (--appendonly yes) history survives a
// Redis restart: a SIGTERM or SHUTDOWN writes the file out, so nothing is
// lost (TestRestartWithAOFLosesNothing). A crash (SIGKILL, power) loses
// the last second of acknowledged publishes with appendfsync everysec, the
// default; with appendfsync always, nothing (also tested). When Redis comes
// back with fewer messages than a node had delivered (a crash that lost
// writes, an old backup), the node notices at once and a new epoch starts,
// so the lost offsets are not reused (TestLostWritesStartNewEpoch); a
// topic no node followed gets "ahead" gaps for cursors past its head.
// Without persistence, or after FLUSHALL, every topic starts a new epoch
// and readers get an epoch gap. Restarting comet nodes loses nothing:
// the history is in Redis, not in the node.
//
// The in-memory default (package memory) keeps nothing across a restart
// of the process: every topic starts a new epoch, clients that resume get
// an epoch gap, and messages published but not yet read are gone.
//
// # Caveats
//
// Limits.MaxTopics is not enforced: Redis holds at most History messages
// per topic, and Redis's own maxmemory bounds the total. A topic that a
// poll of a random name creates without a message costs one small hash
// for EmptyTTL. New fails when Redis does not answer at start. Nodes
// subscribed to a topic each receive every message of it: a topic is not
// sharded across Redis instances (Redis Cluster would place each topic's
// keys on one shard, but this package is tested on one Redis only).
package redis
