//go:build js && wasm

package xhr

import (
	"net/url"
	"sort"
	"strings"
)

// withQuery appends q to rawURL, encoded like encodeURIComponent (a space
// is %20, not +), keys sorted, before any #fragment.
func withQuery(rawURL string, q url.Values) string {
	if len(q) == 0 {
		return rawURL
	}
	frag := ""
	if i := strings.IndexByte(rawURL, '#'); i >= 0 {
		rawURL, frag = rawURL[:i], rawURL[i:]
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(rawURL)
	sep := byte('?')
	if strings.IndexByte(rawURL, '?') >= 0 {
		sep = '&'
		if strings.HasSuffix(rawURL, "?") || strings.HasSuffix(rawURL, "&") {
			sep = 0
		}
	}
	for _, k := range keys {
		for _, v := range q[k] {
			if sep != 0 {
				b.WriteByte(sep)
			}
			sep = '&'
			b.WriteString(EncodeURIComponent(k))
			b.WriteByte('=')
			b.WriteString(EncodeURIComponent(v))
		}
	}
	return b.String() + frag
}

// EncodeURIComponent escapes s like JavaScript's encodeURIComponent:
// everything but A-Z a-z 0-9 - _ . ! ~ * ' ( ) is percent-encoded as UTF-8.
func EncodeURIComponent(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.!~*'()", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
