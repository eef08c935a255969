//go:build js && wasm

package xhr

import (
	"io"
	"syscall/js"

	"github.com/cometwasm/comet/wasm/internal/jsutil"
)

// Response is the answer to one request. A status that is not 2xx is not
// an error: check OK or Status.
type Response struct {
	Status     int
	StatusText string
	// Header holds the headers the page may read (getAllResponseHeaders):
	// cross-origin, only the CORS-safelisted ones and those in
	// Access-Control-Expose-Headers.
	Header Header
	// URL is the final URL after redirects (responseURL).
	URL string
	// Body is set only by Stream: the body as it arrives. Close it.
	Body io.ReadCloser

	data []byte
	blob Blob
	doc  js.Value
}

// OK reports whether the status is 2xx or 304 Not Modified (a cache
// revalidation is a success).
func (r *Response) OK() bool {
	return r.Status >= 200 && r.Status < 300 || r.Status == 304
}

// Bytes returns the body. For ResponseJSON it is the JSON text; for
// ResponseBlob and ResponseDocument it is nil (use Blob or Document).
func (r *Response) Bytes() []byte { return r.data }

// Text returns the body as a string.
func (r *Response) Text() string { return string(r.data) }

// Blob returns the body of a ResponseBlob request.
func (r *Response) Blob() (Blob, bool) { return r.blob, !r.blob.IsZero() }

// Document returns the parsed document of a ResponseDocument request
// (responseXML), if the body parsed as XML or HTML.
func (r *Response) Document() (Document, bool) {
	return Document{r.doc}, r.doc.Type() == js.TypeObject
}

// Document is a handle on an XML or HTML document.
type Document struct{ v js.Value }

// RootName returns the root element's name, e.g. "html" or "note".
func (d Document) RootName() string {
	if d.v.Type() != js.TypeObject {
		return ""
	}
	el := d.v.Get("documentElement")
	if el.IsNull() || el.IsUndefined() {
		return ""
	}
	return el.Get("nodeName").String()
}

// Text returns the text content of the first element matching the CSS
// selector, and whether one matched.
func (d Document) Text(selector string) (string, bool) {
	if d.v.Type() != js.TypeObject {
		return "", false
	}
	el, err := jsutil.Call(d.v, "querySelector", selector)
	if err != nil || el.IsNull() {
		return "", false
	}
	return el.Get("textContent").String(), true
}

// JSValue returns the JavaScript Document.
func (d Document) JSValue() js.Value { return d.v }
