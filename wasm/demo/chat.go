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

	"github.com/cometwasm/comet/wasm/ws"
	"github.com/cometwasm/comet/wasm/ws/wsjson"
)

// chatMsg is the chat's one JSON schema (see server/chat.go).
type chatMsg struct {
	Type     string     `json:"type"`
	Name     string     `json:"name,omitempty"`
	UserID   string     `json:"userid,omitempty"`
	Msg      string     `json:"msg,omitempty"`
	To       string     `json:"to,omitempty"`
	Room     string     `json:"room,omitempty"`
	Since    string     `json:"since,omitempty"`
	From     *chatUser  `json:"from,omitempty"`
	Cursor   string     `json:"cursor,omitempty"`
	Members  []chatUser `json:"members,omitempty"`
	Messages []chatMsg  `json:"messages,omitempty"`
	Gap      any        `json:"gap,omitempty"`
	Error    string     `json:"error,omitempty"`
}

type chatUser struct {
	Name   string `json:"name"`
	UserID string `json:"userid"`
}

// chatSession is one logged-in user on a reconnecting ws.Client: every
// new connection logs in again and rejoins the rooms from the last message
// seen in each, so a drop loses nothing.
type chatSession struct {
	user   chatUser
	client *ws.Client

	mu     sync.Mutex
	rooms  map[string]string // room → cursor of the last room message seen
	rejoin map[string]bool   // rooms rejoined after a reconnect: count what comes back
	opens  int
	hold   sync.Mutex // held while the demo makes the user miss messages
}

// onOpen runs on every new connection, before queued messages go out.
func (s *chatSession) onOpen(ctx context.Context, c *ws.Conn) error {
	s.hold.Lock() // the demo's "miss 2 messages" finishes first
	s.hold.Unlock()
	if err := wsjson.Write(ctx, c, chatMsg{Type: "login", Name: s.user.Name, UserID: s.user.UserID}); err != nil {
		return err
	}
	s.mu.Lock()
	s.opens++
	again := s.opens > 1
	var joins []chatMsg
	for _, r := range slices.Sorted(maps.Keys(s.rooms)) {
		cur := s.rooms[r]
		joins = append(joins, chatMsg{Type: "join", Room: r, Since: cur})
		if again && cur != "" {
			s.rejoin[r] = true
		}
	}
	s.mu.Unlock()
	for _, j := range joins {
		if err := wsjson.Write(ctx, c, j); err != nil {
			return err
		}
	}
	return nil
}

func (s *chatSession) send(ctx context.Context, m chatMsg) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return s.client.Write(ctx, ws.MessageText, b)
}

func chatSection(cfg config) *card {
	c := newCard("chat", "WebSocket chat",
		"The chat from the course notes over wasm/ws: a name, rooms, who is there, and messages. Drop the connection and it comes back with what you missed.")
	name := input("chat-name", "text", "kgh")
	room := input("chat-room", "text", "lobby")
	connect := button("chat-connect", "Connect", "", nil)
	join := button("chat-join", "Join room", "secondary", nil)
	leave := button("chat-leave", "Leave room", "secondary", nil)
	drop := button("chat-drop", "Drop connection and miss 2 messages", "secondary", nil)
	indicator := el("p", "indicator off", "Offline")
	indicator.SetID("chat-conn")
	indicator.SetAttribute("role", "status")
	presence := el("p", "presence muted", "Not in a room.")
	presence.SetID("chat-presence")
	msg := input("chat-msg", "text", "")
	msg.SetAttribute("placeholder", "Message")
	msg.SetAttribute("autocomplete", "off")
	to := selectOf("chat-to", "room", "all", "others", "self")
	form := el("form", "row", labelled("To", to), withClass(labelled("Message", msg), "grow"), submitButton("chat-send", "Send"))
	log := newLog("chat-log", "Chat messages", 200)
	for _, b := range []interface{ SetDisabled(bool) }{join, leave, drop} {
		b.SetDisabled(true)
	}
	add(c.body,
		el("div", "row", labelled("Name", name), labelled("Room", room), connect, join, leave),
		indicator, presence, log.root, form, el("div", "row", drop))

	var session *chatSession
	wsBase := "ws" + strings.TrimPrefix(cfg.PageOrigin, "http")
	members := map[string][]chatUser{}
	showPresence := func() {
		var parts []string
		for _, r := range slices.Sorted(maps.Keys(members)) {
			ms := members[r]
			var names []string
			for _, m := range ms {
				names = append(names, m.Name)
			}
			parts = append(parts, r+": "+strings.Join(names, ", "))
		}
		if len(parts) == 0 {
			presence.SetTextContent("Not in a room.")
			return
		}
		presence.SetTextContent("Here now — " + strings.Join(parts, " · "))
	}
	show := func(m chatMsg) {
		from := "?"
		if m.From != nil {
			from = m.From.Name
		}
		switch m.Type {
		case "login":
			log.add("muted", from+" logged in")
		case "logout":
			log.add("muted", from+" left the chat")
		case "chat":
			log.add("in", "["+m.To+"] "+from+": "+m.Msg)
		case "room":
			log.add("in", "#"+m.Room+" "+from+": "+m.Msg)
		case "join":
			log.add("muted", from+" joined #"+m.Room)
		case "leave":
			log.add("muted", from+" left #"+m.Room)
		case "presence":
			members[m.Room] = m.Members
			showPresence()
		case "error":
			c.fail(errors.New("the chat server says: " + m.Error))
		}
	}
	setIndicator := func(kind, text string) {
		indicator.SetAttribute("class", "indicator "+kind)
		indicator.SetTextContent(text)
	}

	onClick(connect, func() {
		if session != nil {
			return
		}
		n := strings.TrimSpace(name.Value())
		if n == "" {
			c.fail(errors.New("pick a name first"))
			return
		}
		c.fail(nil)
		connect.SetDisabled(true)
		name.SetAttribute("readonly", "")
		session = &chatSession{
			user:   chatUser{Name: n, UserID: n + "@comet.example"},
			rooms:  map[string]string{strings.TrimSpace(room.Value()): ""},
			rejoin: map[string]bool{},
		}
		for _, b := range []interface{ SetDisabled(bool) }{join, leave, drop} {
			b.SetDisabled(false)
		}
		session.client = ws.Reconnect(context.Background(), wsBase+"/ws/chat", &ws.ReconnectOptions{
			MinDelay: 500 * time.Millisecond, MaxDelay: 5 * time.Second,
			Retry:  func(error) bool { return true }, // also after the server's forced disconnect
			OnOpen: session.onOpen,
			OnState: func(ev ws.StateEvent) {
				switch ev.State {
				case ws.StateConnecting:
					setIndicator("wait", "Connecting… (attempt "+strconv.Itoa(ev.Attempt)+")")
				case ws.StateOpen:
					setIndicator("on", "Connected as "+n)
				case ws.StateWaiting:
					log.add("bad", "— connection lost: "+plainWS(ev.Err)+" —")
					clear(members)
					showPresence()
					setIndicator("off", "Disconnected ("+plainWS(ev.Err)+"). Reconnecting in "+ev.Delay.Round(10*time.Millisecond).String()+"…")
				case ws.StateClosed:
					setIndicator("off", "Offline")
				}
			},
		})
		for {
			typ, b, err := session.client.Read(context.Background())
			if errors.Is(err, ws.ErrClosed) {
				return
			}
			if err != nil {
				// One connection ended badly; the client reconnects by itself.
				continue
			}
			var m chatMsg
			if typ != ws.MessageText || json.Unmarshal(b, &m) != nil {
				continue
			}
			if m.Type == "history" {
				session.mu.Lock()
				recovered := session.rejoin[m.Room]
				delete(session.rejoin, m.Room)
				if m.Cursor != "" {
					session.rooms[m.Room] = m.Cursor
				}
				session.mu.Unlock()
				if recovered && len(m.Messages) == 0 {
					log.add("muted", "nothing missed in #"+m.Room)
				} else if recovered {
					log.add("ok", "↺ recovered "+strconv.Itoa(len(m.Messages))+" message(s) in #"+m.Room+" sent while you were away")
				} else if len(m.Messages) > 0 {
					log.add("muted", "— earlier in #"+m.Room+" —")
				}
				if m.Gap != nil {
					log.add("bad", "Some older messages of #"+m.Room+" are gone from the server's history.")
				}
				for _, h := range m.Messages {
					show(h)
				}
				continue
			}
			if m.Type == "room" && m.Cursor != "" {
				session.mu.Lock()
				session.rooms[m.Room] = m.Cursor
				session.mu.Unlock()
			}
			show(m)
		}
	})
	onClick(join, func() {
		r := strings.TrimSpace(room.Value())
		session.mu.Lock()
		_, in := session.rooms[r]
		if !in {
			session.rooms[r] = ""
		}
		session.mu.Unlock()
		c.fail(session.send(context.Background(), chatMsg{Type: "join", Room: r}))
	})
	onClick(leave, func() {
		r := strings.TrimSpace(room.Value())
		session.mu.Lock()
		delete(session.rooms, r)
		session.mu.Unlock()
		delete(members, r)
		showPresence()
		c.fail(session.send(context.Background(), chatMsg{Type: "leave", Room: r}))
	})
	onSubmit(form, func() {
		if session == nil {
			c.fail(errors.New("connect first"))
			return
		}
		text := strings.TrimSpace(msg.Value())
		if text == "" {
			return
		}
		m := chatMsg{Type: "chat", Msg: text, To: to.Value()}
		if m.To == "room" {
			m = chatMsg{Type: "room", Room: strings.TrimSpace(room.Value()), Msg: text}
		}
		err := session.send(context.Background(), m)
		c.fail(err)
		if err == nil {
			msg.SetValue("")
		}
	})
	onClick(drop, func() {
		// The server's "disconnect" (seed 001's forceDisconnect) closes
		// this connection with 4001. While it is down, a friend writes
		// twice in the room; the reconnect asks for everything after the
		// last message seen, and gets both.
		session.hold.Lock()
		defer session.hold.Unlock()
		r := strings.TrimSpace(room.Value())
		if err := session.send(context.Background(), chatMsg{Type: "disconnect"}); err != nil {
			c.fail(err)
			return
		}
		for session.client.State() == ws.StateOpen {
			time.Sleep(20 * time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c.fail(friendWrites(ctx, wsBase+"/ws/chat", r, []string{"you missed this (1/2)", "and this (2/2)"}))
	})
	return c
}

// plainWS says how a connection ended.
func plainWS(err error) string {
	switch code := ws.CloseStatus(err); {
	case code == 4001:
		return "the server disconnected us"
	case code > 0:
		return "closed with code " + strconv.Itoa(int(code))
	case err == nil:
		return "closed"
	}
	return strings.TrimSuffix(strings.TrimPrefix(plain(err), "Error: "), ".")
}

// friendWrites logs in as another user, posts msgs in room, and leaves.
func friendWrites(ctx context.Context, url, room string, msgs []string) error {
	conn, err := ws.Dial(ctx, url, nil)
	if err != nil {
		return err
	}
	defer conn.Close(ws.StatusNormalClosure, "bye")
	steps := []chatMsg{{Type: "login", Name: "friend", UserID: "friend@comet.example"}, {Type: "join", Room: room}}
	for _, m := range msgs {
		steps = append(steps, chatMsg{Type: "room", Room: room, Msg: m})
	}
	for _, m := range steps {
		if err := wsjson.Write(ctx, conn, m); err != nil {
			return err
		}
	}
	// Wait for our own last message to come back: the server has stored it.
	for {
		var m chatMsg
		if err := wsjson.Read(ctx, conn, &m); err != nil {
			return err
		}
		if m.Type == "room" && m.Msg == msgs[len(msgs)-1] {
			return nil
		}
	}
}
