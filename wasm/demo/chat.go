//go:build js && wasm

package main

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cometwasm/comet/wasm/comet"
)

// The chat of seed 001 (socket.io's login, chat, rooms, forceDisconnect)
// on one comet.Client, the same session as every other topic of a page:
//
//   - login: the sign-in (POST /demo/token, with -token-secret-file) or,
//     without tokens, a name the page claims;
//   - a room is the topic "chat:ROOM", joined by a subscription with
//     presence (join and leave come from the session, "who is here" is
//     Who), its history read from the oldest message the server keeps or
//     from the cursor of the last message seen;
//   - a message is one idempotent publish of type "msg": stored exactly
//     once, and stored by the server as {"from":MEMBER,"data":chatText}
//     (rooms and private topics are the demo's sender topics), so the
//     sender shown is the one the server saw;
//   - to one user: the topic "dm:USER", which only USER may follow (the
//     demo's rules "dm:{sub}" and "dm:*"); to self: "dm:" + the own name;
//     to others: a room message the sender's own pages do not show;
//   - forceDisconnect: the page closes its session (every subscription
//     with it) and opens a new one later from its cursors.
const (
	chatType      = "msg"
	chatRoomTopic = "chat:"
	chatDMTopic   = "dm:"
)

// chatText is what a chat page publishes.
type chatText struct {
	Name string `json:"name,omitempty"` // the name the sender gave: shown only without tokens
	Text string `json:"text"`
	To   string `json:"to,omitempty"`   // "others", "self", "user"; empty: the whole room
	User string `json:"user,omitempty"` // "user": the recipient
}

// chatStored is how the server stores it (realtime.Sent).
type chatStored struct {
	From comet.Member `json:"from"`
	Data chatText     `json:"data"`
}

// chatFeed is one followed topic: a room or the own private topic.
type chatFeed struct {
	topic string
	room  string // "" for the private topic
	sub   *comet.Subscription
	last  comet.Cursor // after the last message shown: where a new session resumes
	// missed is the last message published while the page was away (the
	// demo's friend): what comes up to it is marked as recovered.
	missed    comet.Cursor
	recovered int
	members   map[string]comet.Member // by member id
	presence  bool                    // the subscription asked for presence
}

// chatSession is one user's chat on a comet.Client.
type chatSession struct {
	name, transport string
	tokens          bool
	ui              *chatUI

	mu     sync.Mutex
	client *comet.Client
	ctx    context.Context // the client's: its end ends every feed
	stop   context.CancelFunc
	wg     sync.WaitGroup
	feeds  map[string]*chatFeed // by topic
}

// chatUI is what the session writes to.
type chatUI struct {
	c        *card
	log      *logList
	presence interface{ SetTextContent(string) }
	state    func(kind, text string)
}

// validChatName: a name that is also a topic segment and a demo user id.
func validChatName(s string) bool {
	if s == "" || len(s) > 32 {
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

func chatOptions(name, transport string, tokens bool) *comet.Options {
	opts := &comet.Options{Heartbeat: 5 * time.Second, Probe: 5 * time.Second, Transports: pickedTransports(transport)}
	if tokens {
		opts.Token = func(ctx context.Context) (string, error) { return demoSignIn(ctx, name) }
	}
	return opts
}

// open starts a session and follows the private topic and the rooms
// (first ones: from the oldest message kept; after a disconnect: from the
// last message shown).
func (s *chatSession) open(rooms []string) error {
	ctx, cancel := context.WithCancel(context.Background())
	client, err := comet.Connect(ctx, chatOptions(s.name, s.transport, s.tokens))
	if err != nil {
		cancel()
		return err
	}
	s.mu.Lock()
	s.client, s.ctx, s.stop = client, ctx, cancel
	old := s.feeds
	s.feeds = map[string]*chatFeed{}
	s.mu.Unlock()
	if err := s.follow(ctx, chatDMTopic+s.name, "", old[chatDMTopic+s.name]); err != nil {
		return err
	}
	for _, r := range rooms {
		if err := s.follow(ctx, chatRoomTopic+r, r, old[chatRoomTopic+r]); err != nil {
			return err
		}
	}
	s.wg.Go(func() { s.watch(ctx, client) })
	return nil
}

// close ends the session: every subscription, and presence with them. The
// feeds keep their cursors for the next open.
func (s *chatSession) close() {
	s.mu.Lock()
	client, stop := s.client, s.stop
	s.client = nil
	s.mu.Unlock()
	if client == nil {
		return
	}
	stop()
	client.Close()
	s.wg.Wait()
}

// rooms returns the joined rooms.
func (s *chatSession) rooms() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var rs []string
	for _, f := range s.feeds {
		if f.room != "" {
			rs = append(rs, f.room)
		}
	}
	slices.Sort(rs)
	return rs
}

// follow subscribes to topic, after prev's last message when there is one.
func (s *chatSession) follow(ctx context.Context, topic, room string, prev *chatFeed) error {
	s.mu.Lock()
	client := s.client
	if _, ok := s.feeds[topic]; ok || client == nil {
		s.mu.Unlock()
		return nil
	}
	f := &chatFeed{topic: topic, room: room, members: map[string]comet.Member{}}
	opts := &comet.SubscribeOptions{Presence: s.presence(room), Oldest: true}
	f.presence = opts.Presence
	if prev != nil {
		f.last, f.missed = prev.last, prev.missed
		opts.From = prev.last
	}
	s.feeds[topic] = f
	s.mu.Unlock()
	sub, err := client.Subscribe(ctx, topic, opts)
	if err != nil {
		s.mu.Lock()
		delete(s.feeds, topic)
		s.mu.Unlock()
		return err
	}
	s.mu.Lock()
	f.sub = sub
	s.mu.Unlock()
	s.wg.Go(func() { s.read(ctx, f) })
	if room != "" {
		s.wg.Go(func() { s.presenceOf(ctx, f) })
	}
	return nil
}

// leave ends the room's subscription: the others see the leave.
func (s *chatSession) leave(room string) {
	s.mu.Lock()
	var sub *comet.Subscription
	if f := s.feeds[chatRoomTopic+room]; f != nil {
		sub = f.sub
	}
	delete(s.feeds, chatRoomTopic+room)
	s.mu.Unlock()
	if sub != nil {
		sub.Close()
		s.ui.log.add("muted", "you left #"+room)
		s.showPresence()
	}
}

// read shows the feed's messages until the session or the feed ends. A
// gap (history gone) is said, and reading goes on after it.
func (s *chatSession) read(ctx context.Context, f *chatFeed) {
	for {
		s.mu.Lock()
		sub := f.sub
		s.mu.Unlock()
		for m, err := range sub.All(ctx) {
			if err != nil {
				var gap *comet.GapError
				switch {
				case errors.Is(err, comet.ErrUnconfirmed):
					s.ui.c.say("warn", plain(err))
					continue
				case errors.As(err, &gap):
					s.ui.log.add("bad", "Some messages of "+f.topic+" are gone from the server's history ("+gap.Reason+").")
					s.mu.Lock()
					f.last = gap.Resume
					s.mu.Unlock()
					sub, err := s.resubscribe(ctx, f, gap.Resume)
					if err != nil {
						s.ui.c.fail(err)
						return
					}
					s.mu.Lock()
					f.sub = sub
					s.mu.Unlock()
				default:
					s.ui.c.fail(explainAuth(err, s.name, f.topic))
					return
				}
				continue // after a gap All ends: the loop below follows the new subscription
			}
			s.mu.Lock()
			f.last = m.Cursor()
			recovered := !f.missed.IsZero() && m.Epoch == f.missed.Epoch && m.Offset <= f.missed.Offset
			if recovered {
				f.recovered++
			}
			done := recovered && m.Offset == f.missed.Offset
			n := f.recovered
			if done {
				f.missed, f.recovered = comet.Cursor{}, 0
			}
			s.mu.Unlock()
			var st chatStored
			if m.Type == chatType && json.Unmarshal(m.Data, &st) == nil && st.Data.Text != "" {
				s.show(f, st, recovered)
			}
			if done {
				s.ui.log.add("ok", "↺ recovered "+strconv.Itoa(n)+" message(s) in #"+f.room+" sent while you were away")
			}
		}
		s.mu.Lock()
		same := f.sub == sub
		s.mu.Unlock()
		if same || ctx.Err() != nil || !s.holds(f) {
			return // closed (leave, disconnect), not replaced after a gap
		}
	}
}

// resubscribe follows f's topic again after from (after a gap).
func (s *chatSession) resubscribe(ctx context.Context, f *chatFeed, from comet.Cursor) (*comet.Subscription, error) {
	s.mu.Lock()
	client := s.client
	s.mu.Unlock()
	if client == nil {
		return nil, comet.ErrClientClosed
	}
	return client.Subscribe(ctx, f.topic, &comet.SubscribeOptions{Presence: f.presence, From: from})
}

// presence reports whether to join room's presence: every room, on every
// transport (the polls carry presence too).
func (s *chatSession) presence(room string) bool {
	return room != ""
}

// holds reports whether f is still one of the session's feeds.
func (s *chatSession) holds(f *chatFeed) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.feeds[f.topic] == f
}

// sender is how a message's sender is shown: with tokens the user the
// server authenticated; without, the name the page claimed.
func (s *chatSession) sender(st chatStored) string {
	if s.tokens && st.From.User != "" {
		return st.From.User
	}
	if st.Data.Name != "" {
		return st.Data.Name + " (unverified)"
	}
	return "someone"
}

// mine reports whether this user sent st.
func (s *chatSession) mine(st chatStored) bool {
	if s.tokens {
		return st.From.User == s.name
	}
	return st.Data.Name == s.name
}

func (s *chatSession) show(f *chatFeed, st chatStored, recovered bool) {
	mark := ""
	if recovered {
		mark = "↺ "
	}
	from := s.sender(st)
	switch {
	case f.room == "" && st.Data.To == "self":
		s.ui.log.add("in", mark+"[self] note: "+st.Data.Text)
	case f.room == "":
		s.ui.log.add("in", mark+"[private] "+from+" → you: "+st.Data.Text)
	case st.Data.To == "others" && s.mine(st):
		// sent to the others of the room: its sender does not see it
	case st.Data.To == "others":
		s.ui.log.add("in", mark+"#"+f.room+" "+from+" (to others): "+st.Data.Text)
	default:
		s.ui.log.add("in", mark+"#"+f.room+" "+from+": "+st.Data.Text)
	}
}

// memberName is how presence shows a member: the user of its token, or
// an anonymous member's id.
func (s *chatSession) memberName(m comet.Member) string {
	if s.tokens && m.User != "" {
		return m.User
	}
	id := m.Client
	if len(id) > 6 {
		id = id[:6]
	}
	return "guest-" + id
}

// presenceOf keeps the room's members: who is there first, then joins and
// leaves as the session reports them.
func (s *chatSession) presenceOf(ctx context.Context, f *chatFeed) {
	s.mu.Lock()
	sub := f.sub
	s.mu.Unlock()
	members, err := sub.Who(ctx)
	if err != nil {
		return
	}
	s.mu.Lock()
	for _, m := range members {
		f.members[m.Client] = m
	}
	s.mu.Unlock()
	s.showPresence()
	for {
		e, err := sub.NextPresence(ctx)
		if err != nil {
			return
		}
		s.mu.Lock()
		_, known := f.members[e.Member.Client]
		if e.Join {
			f.members[e.Member.Client] = e.Member
		} else {
			delete(f.members, e.Member.Client)
		}
		s.mu.Unlock()
		who := s.memberName(e.Member)
		switch {
		case e.Join && !known:
			s.ui.log.add("muted", who+" joined #"+f.room)
		case !e.Join && known:
			s.ui.log.add("muted", who+" left #"+f.room)
		}
		s.showPresence()
	}
}

func (s *chatSession) showPresence() {
	s.mu.Lock()
	var parts []string
	for _, topic := range slices.Sorted(maps.Keys(s.feeds)) {
		f := s.feeds[topic]
		if f.room == "" {
			continue
		}
		var names []string
		for _, m := range f.members {
			names = append(names, s.memberName(m))
		}
		slices.Sort(names)
		names = slices.Compact(names)
		parts = append(parts, f.room+": "+strings.Join(names, ", "))
	}
	s.mu.Unlock()
	if len(parts) == 0 {
		s.ui.presence.SetTextContent("Not in a room.")
		return
	}
	s.ui.presence.SetTextContent("Here now — " + strings.Join(parts, " · "))
}

// watch shows the transport the session is on.
func (s *chatSession) watch(ctx context.Context, client *comet.Client) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	shown := ""
	for {
		text := "Connecting…"
		a, st, err := client.Active(), client.Stats(), client.Err()
		switch {
		case a != "" && st.Open > 0:
			text = "Connected as " + s.name + " over " + a
		case a != "" && err != nil:
			text = "Connecting… (trying " + a + " after: " + plain(err) + ")"
		case a != "":
			text = "Connecting… (trying " + a + ")"
		}
		if text != shown {
			kind := "wait"
			if strings.HasPrefix(text, "Connected") {
				kind = "on"
			}
			s.ui.state(kind, text)
			shown = text
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// send publishes text as the form asks: to the room, to its others, to
// oneself, or to one user. It returns once the server stored it.
func (s *chatSession) send(ctx context.Context, room, to, user, text string) error {
	s.mu.Lock()
	client := s.client
	_, in := s.feeds[chatRoomTopic+room]
	s.mu.Unlock()
	if client == nil {
		return errors.New("not connected")
	}
	m := chatText{Text: text}
	if !s.tokens {
		m.Name = s.name
	}
	var topic string
	switch to {
	case "room", "others":
		if !in {
			return errors.New("join #" + room + " first")
		}
		topic = chatRoomTopic + room
		if to == "others" {
			m.To = "others"
		}
	case "self":
		topic, m.To = chatDMTopic+s.name, "self"
	case "user":
		if !validChatName(user) {
			return errors.New("name the user to write to (1-32 of A-Z a-z 0-9 . _ -)")
		}
		topic, m.To, m.User = chatDMTopic+user, "user", user
	default:
		return errors.New("unknown recipient " + strconv.Quote(to))
	}
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if _, err := client.Publish(ctx, topic, chatType, data); err != nil {
		return explainAuth(err, s.name, topic)
	}
	if to == "user" && user != s.name {
		s.ui.log.add("out", "[private] you → "+user+": "+text) // the sender cannot read user's topic
	}
	return nil
}

// chatFriendWrites signs in as "friend", writes msgs in room, and returns
// the cursor of the last one once the server stored it.
func chatFriendWrites(ctx context.Context, transport string, tokens bool, room string, msgs []string) (comet.Cursor, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	client, err := comet.Connect(ctx, chatOptions("friend", transport, tokens))
	if err != nil {
		return comet.Cursor{}, err
	}
	defer client.Close()
	var last comet.Cursor
	for _, text := range msgs {
		m := chatText{Text: text}
		if !tokens {
			m.Name = "friend"
		}
		data, _ := json.Marshal(m)
		if last, err = client.Publish(ctx, chatRoomTopic+room, chatType, data); err != nil {
			return comet.Cursor{}, err
		}
	}
	return last, nil
}

func chatSection(cfg config) *card {
	c := newCard("chat", "Chat",
		"The chat from the course notes on one comet.Client: rooms are topics, who is here comes from the session's presence, and every message is published exactly once. Disconnect and come back: you get what you missed, once.")
	name := input("chat-name", "text", "kgh")
	name.SetAttribute("autocomplete", "username")
	room := input("chat-room", "text", "lobby")
	tr := selectOf("chat-transport", "auto", "ws", "sse", "stream", "longpoll", "poll")
	tr.Options()[0].SetTextContent("auto (WebSocket, falling back)")
	connect := button("chat-connect", "Connect", "", nil)
	join := button("chat-join", "Join room", "secondary", nil)
	leave := button("chat-leave", "Leave room", "secondary", nil)
	drop := button("chat-drop", "Disconnect and miss 2 messages", "secondary", nil)
	indicator := el("p", "indicator off", "Offline")
	indicator.SetID("chat-conn")
	indicator.SetAttribute("role", "status")
	presence := el("p", "presence muted", "Not in a room.")
	presence.SetID("chat-presence")
	msg := input("chat-msg", "text", "")
	msg.SetAttribute("placeholder", "Message")
	msg.SetAttribute("autocomplete", "off")
	to := selectOf("chat-to", "room", "others", "self", "user")
	user := input("chat-user", "text", "")
	user.SetAttribute("placeholder", "for “user”")
	form := el("form", "row", labelled("To", to), labelled("User", user), withClass(labelled("Message", msg), "grow"), submitButton("chat-send", "Send"))
	log := newLog("chat-log", "Chat messages", 200)
	for _, b := range []interface{ SetDisabled(bool) }{join, leave, drop} {
		b.SetDisabled(true)
	}
	add(c.body,
		el("div", "row", labelled("Name", name), labelled("Room", room), labelled("Transport", tr), connect, join, leave),
		indicator, presence, log.root, form, el("div", "row", drop))
	if !cfg.Tokens {
		c.say("warn", "Tokens are off (no -token-secret-file): names are claims marked “unverified”, presence shows guests, and anyone may follow anyone's private topic dm:NAME. With tokens, the sender is the signed-in user and only NAME may read dm:NAME.")
	}
	ui := &chatUI{c: c, log: log, presence: presence, state: func(kind, text string) {
		indicator.SetAttribute("class", "indicator "+kind)
		indicator.SetTextContent(text)
	}}

	var mu sync.Mutex
	var session *chatSession
	current := func() *chatSession {
		mu.Lock()
		defer mu.Unlock()
		return session
	}
	onClick(connect, func() {
		n := strings.TrimSpace(name.Value())
		if !validChatName(n) {
			c.fail(errors.New("pick a name of 1-32 letters, digits, dots, dashes or underscores"))
			return
		}
		r := strings.TrimSpace(room.Value())
		if !validChatName(r) {
			c.fail(errors.New("a room name is 1-32 letters, digits, dots, dashes or underscores"))
			return
		}
		mu.Lock()
		if session != nil {
			mu.Unlock()
			return
		}
		s := &chatSession{name: n, transport: tr.Value(), tokens: cfg.Tokens, ui: ui}
		session = s
		mu.Unlock()
		c.fail(nil)
		connect.SetDisabled(true)
		tr.SetDisabled(true)
		name.SetAttribute("readonly", "")
		if err := s.open([]string{r}); err != nil {
			c.fail(err)
			return
		}
		for _, b := range []interface{ SetDisabled(bool) }{join, leave, drop} {
			b.SetDisabled(false)
		}
	})
	onClick(join, func() {
		s := current()
		r := strings.TrimSpace(room.Value())
		if s == nil || !validChatName(r) {
			c.fail(errors.New("connect first, and name the room (1-32 letters, digits, . _ -)"))
			return
		}
		s.mu.Lock()
		client, ctx := s.client, s.ctx
		s.mu.Unlock()
		if client == nil {
			return
		}
		c.fail(s.follow(ctx, chatRoomTopic+r, r, nil))
	})
	onClick(leave, func() {
		if s := current(); s != nil {
			s.leave(strings.TrimSpace(room.Value()))
		}
	})
	onSubmit(form, func() {
		s := current()
		if s == nil {
			c.fail(errors.New("connect first"))
			return
		}
		text := strings.TrimSpace(msg.Value())
		if text == "" {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := s.send(ctx, strings.TrimSpace(room.Value()), to.Value(), strings.TrimSpace(user.Value()), text)
		c.fail(err)
		if err == nil {
			msg.SetValue("")
		}
	})
	onClick(drop, func() {
		// Seed 001's forceDisconnect: the page closes its session (the
		// room sees it leave). While it is away, a friend writes twice in
		// the room; the new session resumes every topic after the last
		// message shown, so both arrive, once.
		s := current()
		if s == nil {
			return
		}
		drop.SetDisabled(true)
		defer drop.SetDisabled(false)
		rooms := s.rooms()
		s.close()
		ui.state("off", "Disconnected (this page closed its session)")
		log.add("bad", "— disconnected: this page closed its session —")
		s.showPresence()
		r := strings.TrimSpace(room.Value())
		if !slices.Contains(rooms, r) && len(rooms) > 0 {
			r = rooms[0]
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		last, err := chatFriendWrites(ctx, s.transport, s.tokens, r, []string{"you missed this (1/2)", "and this (2/2)"})
		if err != nil {
			c.fail(err)
		}
		s.mu.Lock()
		if f := s.feeds[chatRoomTopic+r]; f != nil && err == nil {
			f.missed = last
		}
		s.mu.Unlock()
		c.fail(s.open(rooms))
	})
	return c
}
