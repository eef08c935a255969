//go:build js && wasm

package xhr

import "unicode/utf8"

// Header maps canonical names ("Content-Type") to values. Lookups are
// case-insensitive, like net/http.Header, which Send does not import.
type Header map[string][]string

// Get returns the first value of name, or "".
func (h Header) Get(name string) string {
	if v := h[canonical(name)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Values returns all values of name.
func (h Header) Values(name string) []string { return h[canonical(name)] }

// Set replaces the values of name.
func (h Header) Set(name, value string) { h[canonical(name)] = []string{value} }

// Add appends a value to name.
//
//go:noinline
func (h Header) Add(name, value string) {
	k := canonical(name)
	h[k] = append(h[k], value)
}

// Del removes name.
func (h Header) Del(name string) { delete(h, canonical(name)) }

// canonical upper-cases the first letter and every letter after a '-'.
// Not inlined: one copy for Header's methods.
//
//go:noinline
func canonical(name string) string {
	b := []byte(name)
	upper := true
	for i, c := range b {
		switch {
		case upper && 'a' <= c && c <= 'z':
			b[i] = c - 'a' + 'A'
		case !upper && 'A' <= c && c <= 'Z':
			b[i] = c - 'A' + 'a'
		}
		upper = c == '-'
	}
	return string(b)
}

// forbiddenHeaders are the Fetch spec's forbidden request-header names,
// lower case. Names starting with "proxy-" or "sec-" are forbidden too.
var forbiddenHeaders = [...]string{
	"accept-charset", "accept-encoding", "access-control-request-headers",
	"access-control-request-method", "connection", "content-length",
	"cookie", "cookie2", "date", "dnt", "expect", "host", "keep-alive",
	"origin", "referer", "set-cookie", "te", "trailer",
	"transfer-encoding", "upgrade", "via",
}

// Forbidden reports whether the browser refuses to let a script set the
// request header name.
func Forbidden(name string) bool {
	n := foldCase(name, false)
	if len(n) >= 6 && n[:6] == "proxy-" || len(n) >= 4 && n[:4] == "sec-" {
		return true
	}
	for _, f := range forbiddenHeaders {
		if n == f {
			return true
		}
	}
	return false
}

// isToken reports whether s is a non-empty RFC 9110 token. Not inlined:
// one copy for the method and the header names.
//
//go:noinline
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || indexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

// validValue reports whether v may be a header value: no CR, LF or NUL.
func validValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == '\r' || c == '\n' || c == 0 {
			return false
		}
	}
	return true
}

// parseHeaders parses getAllResponseHeaders: "name: value\r\n" lines.
func parseHeaders(all string) Header {
	h := Header{}
	for all != "" {
		line := all
		all = ""
		for i := 0; i+1 < len(line); i++ {
			if line[i] == '\r' && line[i+1] == '\n' {
				line, all = line[:i], line[i+2:]
				break
			}
		}
		if i := indexByte(line, ':'); i > 0 {
			h.Add(trimSpace(line[:i]), trimSpace(line[i+1:]))
		}
	}
	return h
}

// trimSpace removes leading and trailing ASCII white space (HTTP's OWS is
// only space and tab): strings.TrimSpace, which would link package
// strings and Unicode's tables, also trims the Unicode spaces U+0085 and
// U+00A0 that a header value's bytes 0x85 and 0xA0 become.
func trimSpace(s string) string {
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func isSpace(c byte) bool { return c == ' ' || '\t' <= c && c <= '\r' }

// foldCase upper- or lower-cases the ASCII letters of s and the four
// other runes whose case mate is ASCII (ı ſ to I S, İ K to i k). Where
// the result is ASCII it equals strings.ToUpper or ToLower, which would
// link Unicode's case tables (about 25 KB); other runes are kept as is.
func foldCase(s string, upper bool) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case upper && 'a' <= r && r <= 'z':
			r -= 'a' - 'A'
		case !upper && 'A' <= r && r <= 'Z':
			r += 'a' - 'A'
		case upper && r == '\u0131':
			r = 'I'
		case upper && r == '\u017f':
			r = 'S'
		case !upper && r == '\u0130':
			r = 'i'
		case !upper && r == '\u212a':
			r = 'k'
		}
		if r < utf8.RuneSelf {
			b = append(b, byte(r))
		} else {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return string(b)
}
