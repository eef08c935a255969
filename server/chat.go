//go:build !js

package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/cometwasm/comet/server/internal/httpx"
	"github.com/cometwasm/comet/server/realtime/broker"
	"github.com/cometwasm/comet/server/wire"
)

// The chat of seed 001 (socket.io's login / chat / rooms / forceDisconnect)
// over GET /ws/chat, plus presence and room history kept in the realtime broker (topic
// "chat:ROOM"), so a client that rejoins with the cursor of the last room
// message it saw gets exactly what it missed.
//
// The chat can also run on realtime sessions (no code here): a room is
// the topic "chat:ROOM", joined by a subscription with presence; a message
// is an idempotent publish, stored with its sender by the server
// (Config.SenderTopics "chat:*"); see package wire, "Sessions". /ws/chat
// stays for what sessions do not do: messages to one user, to "others" or
// to "self", routed by the server, and the socket.io seed's login and
// forceDisconnect. Its room messages reach the clients of this process
// only; the session chat's reach every node.
//
// # Schema
//
// Every message is one JSON text message with a "type" (chatMsg). Client to
// server:
//
//	{"type":"login","name":"kgh","userid":"kgh@gmail.com"}
//	{"type":"chat","msg":"hi","to":"all"|"others"|"self"|"user","user":"USERID"}
//	{"type":"join","room":"lobby","since":"E-N"}   since: optional cursor
//	{"type":"leave","room":"lobby"}
//	{"type":"room","room":"lobby","msg":"hi"}
//	{"type":"disconnect"}                          the server closes: 4001
//
// Server to client:
//
//	{"type":"login","from":{"name":..,"userid":..}}          to everyone
//	{"type":"logout","from":{..}}                            to everyone
//	{"type":"chat","from":{..},"msg":"hi","to":"all"}        per "to"
//	{"type":"room","room":"lobby","from":{..},"msg":"hi","cursor":"E-N"}
//	{"type":"history","room":"lobby","messages":[room..],"cursor":"E-N","gap":{..}}
//	{"type":"join"|"leave","room":"lobby","from":{..}}       to the room
//	{"type":"presence","room":"lobby","members":[{..}]}      to the room
//	{"type":"error","error":"..."}                           to the sender
//
// "chat" to "all" reaches every connection and is also published to the
// realtime topic "chat" (type "chat", data {from, msg}), so SSE and polling
// clients see it. "history" answers every join: the room messages after
// since (without since: the last chatHistory), and the cursor to rejoin
// with; gap is set when messages after since are gone (wire.Gap); more is
// set when the answer stopped at chatHistoryBytes (join again with since
// = cursor for the rest).
// Everything except login needs a login first.
//
// Room messages travel through the broker: each node follows "chat:ROOM"
// for its members, so with -broker redis members on different nodes chat.
// Login, logout, "chat" and presence stay within one node.
type chatMsg struct {
	Type     string     `json:"type"`
	Name     string     `json:"name,omitempty"`
	UserID   string     `json:"userid,omitempty"`
	Msg      string     `json:"msg,omitempty"`
	To       string     `json:"to,omitempty"`
	User     string     `json:"user,omitempty"`
	Room     string     `json:"room,omitempty"`
	Since    string     `json:"since,omitempty"`
	From     *chatUser  `json:"from,omitempty"`
	Cursor   string     `json:"cursor,omitempty"`
	Members  []chatUser `json:"members,omitempty"`
	Messages []chatMsg  `json:"messages,omitempty"`
	Gap      *wire.Gap  `json:"gap,omitempty"`
	More     bool       `json:"more,omitempty"`
	Error    string     `json:"error,omitempty"`
}

type chatUser struct {
	Name   string `json:"name"`
	UserID string `json:"userid"`
}

// chatAllTopic is the realtime topic "chat" to "all" is published to;
// topicChatRooms matches the topics of the rooms ("chat:ROOM"): sender
// topics (realtime.Config.SenderTopics), so a client's publish there is
// stamped with its sender and never read as a chat line (chatLine).
const (
	chatAllTopic   = topicChat
	topicChatRooms = "chat:*"
)

// chatHistory is how many room messages a join without since receives;
// chatHistoryBytes bounds the messages of one "history" answer: past it
// the answer has "more": true and its cursor is where to join again.
const (
	chatHistory      = 100
	chatHistoryBytes = 512 << 10
)

// chatService holds the connected clients and rooms of one server.
type chatService struct {
	s       *server
	mu      sync.Mutex
	clients map[*chatClient]bool
	rooms   map[string]map[*chatClient]bool
	feeds   map[string]*roomFeed // one broker subscription per room with members here
}

type chatClient struct {
	p    *wsPeer
	user *chatUser // nil until login
	// verified is the user id of the connection's token (with
	// -token-secret-file); login takes it instead of a claimed one.
	verified string
	rooms    map[string]bool
	seen     map[string]wire.Cursor // per room: the last room message sent to it
	tokens   float64
	last     time.Time
}

func newChatService(s *server) *chatService {
	return &chatService{s: s, clients: map[*chatClient]bool{}, rooms: map[string]map[*chatClient]bool{}, feeds: map[string]*roomFeed{}}
}

func (s *server) handleWSChat(w http.ResponseWriter, r *http.Request) {
	var verified string
	if s.signer != nil { // identity comes from the token, never from the client
		id, err := s.signer.Authenticate(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="comet"`)
			httpx.WriteError(w, http.StatusUnauthorized, err.Error())
			return
		}
		verified = id.User
	}
	c, release, ok := s.acceptWS(w, r, nil)
	if !ok {
		return
	}
	defer release()
	c.SetReadLimit(s.ws.cfg.ChatReadLimit)
	cs := s.ws.chat
	cl := &chatClient{p: newPeer(c, s.ws.cfg.WriteQueue, s.ws.cfg.WriteQueueBytes, &s.ws.queued), rooms: map[string]bool{}, seen: map[string]wire.Cursor{}, tokens: float64(s.ws.cfg.Burst), last: time.Now(), verified: verified}
	cs.mu.Lock()
	cs.clients[cl] = true
	cs.mu.Unlock()
	defer cs.remove(cl)
	err := s.serveWS(r, c, func(ctx context.Context) error {
		return s.runPeer(ctx, cl.p, func(ctx context.Context) error {
			for {
				typ, data, err := c.Read(ctx)
				if err != nil {
					return err
				}
				if typ != websocket.MessageText {
					cl.p.kick(wsPolicy, "binary messages are not supported")
					return errors.New("chat: binary message")
				}
				if !utf8.Valid(data) { // RFC 6455 §8.1; json.Unmarshal would hide it
					cl.p.kick(websocket.StatusInvalidFramePayloadData, "invalid UTF-8 in a text message")
					return errors.New("chat: invalid UTF-8")
				}
				if !cl.allow(s.ws.cfg) {
					cl.p.kick(wsPolicy, "rate limit exceeded")
					return errors.New("chat: rate limit")
				}
				var m chatMsg
				if err := json.Unmarshal(data, &m); err != nil {
					cl.p.sendJSON(chatMsg{Type: "error", Error: "bad JSON: " + err.Error()})
					continue
				}
				if stop := cs.handle(cl, m); stop {
					return errors.New("chat: disconnect requested")
				}
			}
		})
	})
	s.recordClose(r, err)
}

// allow takes one token from the client's bucket.
func (cl *chatClient) allow(cfg wsConfig) bool {
	if cfg.Rate <= 0 {
		return true
	}
	now := time.Now()
	cl.tokens = min(float64(cfg.Burst), cl.tokens+now.Sub(cl.last).Seconds()*cfg.Rate)
	cl.last = now
	if cl.tokens < 1 {
		return false
	}
	cl.tokens--
	return true
}

// handle acts on one client message; stop asks to end the connection.
func (cs *chatService) handle(cl *chatClient, m chatMsg) (stop bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	fail := func(msg string) { cl.p.sendJSON(chatMsg{Type: "error", Error: msg}) }
	if m.Type != "login" && cl.user == nil {
		fail("login first")
		return false
	}
	switch m.Type {
	case "login":
		if cl.verified != "" {
			if m.UserID != "" && m.UserID != cl.verified {
				fail("userid comes from your token (" + strconv.Quote(cl.verified) + "), not from the login message")
				return false
			}
			m.UserID = cl.verified
			if m.Name == "" {
				m.Name = cl.verified
			}
		}
		if !validName(m.Name) || !validName(m.UserID) {
			fail("name and userid must be 1-64 printable characters")
			return false
		}
		// Without tokens, the first connection of a userid owns it: a
		// second one would receive its private messages. With a token,
		// every connection of the user is that user.
		for c := range cs.clients {
			if cl.verified == "" && c != cl && c.user != nil && c.user.UserID == m.UserID {
				fail("userid " + strconv.Quote(m.UserID) + " is already online")
				return false
			}
		}
		cl.user = &chatUser{Name: m.Name, UserID: m.UserID}
		cs.toAllLocked(chatMsg{Type: "login", From: cl.user})
	case "chat":
		if !validText(m.Msg) {
			fail("msg must be 1-4096 bytes of text")
			return false
		}
		out := chatMsg{Type: "chat", From: cl.user, Msg: m.Msg, To: m.To}
		switch m.To {
		case "", "all":
			out.To = "all"
			cs.toAllLocked(out)
			if data, err := json.Marshal(chatMsg{From: cl.user, Msg: m.Msg}); err == nil {
				cs.s.rt.Publish(cs.s.ctx, chatAllTopic, "chat", data)
			}
		case "others":
			for c := range cs.clients {
				if c != cl {
					c.p.sendJSON(out)
				}
			}
		case "self":
			cl.p.sendJSON(out)
		case "user":
			n := 0
			for c := range cs.clients {
				if c.user != nil && c.user.UserID == m.User {
					c.p.sendJSON(out)
					n++
				}
			}
			if n == 0 {
				fail("user " + strconv.Quote(m.User) + " is not online")
			}
		default:
			fail(`to must be "all", "others", "self" or "user"`)
		}
	case "join":
		if !validRoom(m.Room) {
			fail("room must be 1-64 of A-Z a-z 0-9 . _ -")
			return false
		}
		since, err := wire.ParseCursor(m.Since)
		if err != nil {
			fail("since is not a cursor")
			return false
		}
		h := cs.historyLocked(m.Room, since)
		cl.p.sendJSON(h)
		if c, err := wire.ParseCursor(h.Cursor); err == nil && h.Type == "history" {
			cl.seen[m.Room] = c // the feed sends what comes after
		}
		if !cl.rooms[m.Room] {
			cl.rooms[m.Room] = true
			if cs.rooms[m.Room] == nil {
				cs.rooms[m.Room] = map[*chatClient]bool{}
			}
			if cs.feeds[m.Room] == nil {
				cs.startFeedLocked(m.Room, cl.seen[m.Room])
			}
			cs.rooms[m.Room][cl] = true
			cs.toRoomLocked(m.Room, chatMsg{Type: "join", Room: m.Room, From: cl.user})
			cs.presenceLocked(m.Room)
		}
	case "leave":
		if !cl.rooms[m.Room] {
			fail("not in room " + strconv.Quote(m.Room))
			return false
		}
		cs.leaveLocked(cl, m.Room)
	case "room":
		if !cl.rooms[m.Room] {
			fail("join room " + strconv.Quote(m.Room) + " first")
			return false
		}
		if !validText(m.Msg) {
			fail("msg must be 1-4096 bytes of text")
			return false
		}
		data, _ := json.Marshal(chatMsg{From: cl.user, Msg: m.Msg})
		// The room's feed delivers it to the members on every node.
		if _, err := cs.s.rt.Publish(cs.s.ctx, "chat:"+m.Room, "room", data); err != nil {
			fail("room message not stored: " + err.Error())
			return false
		}
	case "disconnect":
		cl.p.kick(wsKicked, "force disconnect")
		return true
	default:
		fail("unknown type " + strconv.Quote(m.Type))
	}
	return false
}

// historyLocked reads the room's messages after since (without since: the
// last chatHistory) from the broker.
func (cs *chatService) historyLocked(room string, since wire.Cursor) chatMsg {
	out := chatMsg{Type: "history", Room: room, Messages: []chatMsg{}}
	topic := "chat:" + room
	size := 0
	if since.IsZero() {
		head, err := cs.s.rt.Broker().Head(cs.s.ctx, topic)
		if err != nil {
			return chatMsg{Type: "error", Error: err.Error()}
		}
		since = wire.Cursor{Epoch: head.Epoch, Offset: head.Offset - min(head.Offset, chatHistory)}
	}
	for {
		b, err := cs.s.rt.Broker().Read(cs.s.ctx, topic, since, 0)
		var gap *broker.GapError
		if errors.As(err, &gap) {
			if out.Gap == nil {
				out.Gap = &gap.Gap
			}
			since = gap.Resume
			continue
		}
		if err != nil {
			return chatMsg{Type: "error", Error: err.Error()}
		}
		for _, m := range b.Messages {
			if size += len(m.Data) + 64; size > chatHistoryBytes {
				out.More = true
				out.Cursor = since.String()
				return out
			}
			var body chatMsg
			if m.Type == "room" && json.Unmarshal(m.Data, &body) == nil && chatLine(body) { // not the session chat's messages
				out.Messages = append(out.Messages, chatMsg{Type: "room", Room: room, From: body.From, Msg: body.Msg, Cursor: m.Cursor().String()})
			}
			since = m.Cursor()
		}
		since = b.Cursor
		if len(b.Messages) == 0 {
			break
		}
	}
	out.Cursor = since.String()
	return out
}

func (cs *chatService) leaveLocked(cl *chatClient, room string) {
	delete(cl.rooms, room)
	delete(cl.seen, room)
	delete(cs.rooms[room], cl)
	cs.toRoomLocked(room, chatMsg{Type: "leave", Room: room, From: cl.user})
	cl.p.sendJSON(chatMsg{Type: "leave", Room: room, From: cl.user})
	cs.presenceLocked(room)
	if len(cs.rooms[room]) == 0 {
		delete(cs.rooms, room)
		if f := cs.feeds[room]; f != nil {
			f.cancel()
			delete(cs.feeds, room)
		}
	}
}

// roomFeed follows a room's topic in the broker for the members on this
// node, so members on other nodes chat with them.
type roomFeed struct {
	cancel context.CancelFunc
}

// startFeedLocked follows room after from and sends each room message to
// the local members that have not had it.
func (cs *chatService) startFeedLocked(room string, from wire.Cursor) {
	ctx, cancel := context.WithCancel(cs.s.ctx)
	f := &roomFeed{cancel: cancel}
	cs.feeds[room] = f
	topic := "chat:" + room
	go func() {
		cur := from
		for ctx.Err() == nil {
			sub, err := cs.s.rt.Broker().Subscribe(ctx, topic, cur)
			var gap *broker.GapError
			switch {
			case errors.As(err, &gap):
				cs.gap(f, room, gap)
				cur = gap.Resume
				continue
			case err != nil:
				select { // broker unavailable: retry from the cursor
				case <-ctx.Done():
				case <-time.After(200 * time.Millisecond):
				}
				continue
			}
			for {
				ms, err := sub.Next(ctx)
				if errors.As(err, &gap) {
					cs.gap(f, room, gap)
					cur = gap.Resume
					break
				}
				if err != nil {
					break
				}
				cs.deliver(f, room, ms)
				cur = ms[len(ms)-1].Cursor()
			}
			sub.Close()
		}
	}()
}

// chatLine reports whether a room topic's message is a line of this chat:
// one of its users said something. A client's publish to a room topic
// over HTTP or a session is stored as a realtime.Sent, whose "from" is a
// wire.Member with no userid, and is not shown: nobody can forge a line.
func chatLine(body chatMsg) bool { return body.From != nil && body.From.UserID != "" && body.Msg != "" }

// deliver sends room messages to the room's local members after their
// own cursor (a member that joined later had the earlier ones in its
// history).
func (cs *chatService) deliver(f *roomFeed, room string, ms []wire.Message) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.feeds[room] != f {
		return
	}
	for _, m := range ms {
		var body chatMsg
		if json.Unmarshal(m.Data, &body) != nil || !chatLine(body) {
			continue
		}
		out := chatMsg{Type: "room", Room: room, From: body.From, Msg: body.Msg, Cursor: m.Cursor().String()}
		for c := range cs.rooms[room] {
			if s := c.seen[room]; s.Epoch != m.Epoch || s.Offset < m.Offset {
				c.seen[room] = m.Cursor()
				c.p.sendJSON(out)
			}
		}
	}
}

// gap tells the room's local members that messages are gone, as a history
// without messages.
func (cs *chatService) gap(f *roomFeed, room string, g *broker.GapError) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.feeds[room] != f {
		return
	}
	for c := range cs.rooms[room] {
		c.seen[room] = g.Resume
		c.p.sendJSON(chatMsg{Type: "history", Room: room, Messages: []chatMsg{}, Cursor: g.Resume.String(), Gap: &g.Gap})
	}
}

// presenceLocked sends the room's member list to its members.
func (cs *chatService) presenceLocked(room string) {
	members := []chatUser{}
	for c := range cs.rooms[room] {
		members = append(members, *c.user)
	}
	slices.SortFunc(members, func(a, b chatUser) int {
		if a.UserID != b.UserID {
			if a.UserID < b.UserID {
				return -1
			}
			return 1
		}
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	cs.toRoomLocked(room, chatMsg{Type: "presence", Room: room, Members: members})
}

func (cs *chatService) toAllLocked(m chatMsg) {
	for c := range cs.clients {
		c.p.sendJSON(m)
	}
}

func (cs *chatService) toRoomLocked(room string, m chatMsg) {
	for c := range cs.rooms[room] {
		c.p.sendJSON(m)
	}
}

// remove forgets a client whose connection ended.
func (cs *chatService) remove(cl *chatClient) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	delete(cs.clients, cl)
	for room := range cl.rooms {
		cs.leaveLocked(cl, room)
	}
	if cl.user != nil {
		cs.toAllLocked(chatMsg{Type: "logout", From: cl.user})
	}
}

func validName(s string) bool {
	if s == "" || len(s) > 64 || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

func validText(s string) bool { return s != "" && len(s) <= 4096 && utf8.ValidString(s) }

func validRoom(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// wsPeer is a connection with a write queue bounded in messages and
// bytes: a slow reader is closed with 4013 instead of stalling whoever
// sends to it or filling the server's memory.
type wsPeer struct {
	c        *websocket.Conn
	out      chan []byte
	kill     chan struct{}
	killOnce sync.Once
	code     websocket.StatusCode
	reason   string
	// queued is the bytes in out plus the one being written; total is
	// the same summed over peers (wsService.queued).
	queued, maxBytes int64
	mu               sync.Mutex // guards queued and closed
	closed           bool       // drained: queue nothing more
	total            *atomic.Int64
}

func newPeer(c *websocket.Conn, queue int, maxBytes int64, total *atomic.Int64) *wsPeer {
	return &wsPeer{c: c, out: make(chan []byte, queue), kill: make(chan struct{}), maxBytes: maxBytes, total: total}
}

// sendJSON queues v without blocking. When the queue is full, in messages
// or bytes, the peer is closed with 4013.
func (p *wsPeer) sendJSON(v any) {
	b, err := json.Marshal(v)
	if err != nil || p.killed() {
		return
	}
	n := int64(len(b))
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	if p.queued+n > p.maxBytes {
		p.mu.Unlock()
		p.kick(wsTooSlow, "slow consumer: write queue over "+strconv.FormatInt(p.maxBytes, 10)+" bytes")
		return
	}
	select {
	case p.out <- b:
		p.queued += n
		p.total.Add(n)
		p.mu.Unlock()
	default:
		p.mu.Unlock()
		p.kick(wsTooSlow, "slow consumer")
	}
}

// done gives back the bytes of one message written or dropped.
func (p *wsPeer) done(b []byte) {
	p.mu.Lock()
	p.queued -= int64(len(b))
	p.mu.Unlock()
	p.total.Add(-int64(len(b)))
}

// drain drops what is still queued (the connection is over), so its
// memory goes at once.
func (p *wsPeer) drain() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	for {
		select {
		case b := <-p.out:
			p.done(b)
		default:
			return
		}
	}
}

// kick closes the peer with code and reason (once; the first wins).
func (p *wsPeer) kick(code websocket.StatusCode, reason string) {
	p.killOnce.Do(func() {
		p.code, p.reason = code, reason
		close(p.kill)
	})
}

func (p *wsPeer) killed() bool {
	select {
	case <-p.kill:
		return true
	default:
		return false
	}
}

// writeLoop sends the queue until ctx ends, a write fails, or the peer is
// kicked (then it closes with the kick's code).
func (p *wsPeer) writeLoop(ctx context.Context, timeout time.Duration) {
	for {
		if p.killed() {
			p.c.Close(p.code, p.reason)
			return
		}
		select {
		case <-p.kill:
		case <-ctx.Done():
			return
		case b := <-p.out:
			wctx, cancel := context.WithTimeout(ctx, timeout)
			err := p.c.Write(wctx, websocket.MessageText, b)
			cancel()
			p.done(b)
			if err != nil {
				return
			}
		}
	}
}

// runPeer runs p's writer beside read and waits for both. When read ends
// after a kick, the writer first closes with the kick's code.
func (s *server) runPeer(ctx context.Context, p *wsPeer, read func(ctx context.Context) error) error {
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.writeLoop(wctx, s.ws.cfg.WriteTimeout)
	}()
	err := read(ctx)
	if p.killed() {
		<-done // Close is bounded by coder/websocket's 5s handshake timeout
	}
	cancel()
	<-done
	p.drain()
	return err
}
