//go:build js && wasm

package xhr

import "errors"

// Sentinel errors. Send wraps them in an *Error; test with errors.Is.
var (
	// ErrTimeout: Request.Timeout or the ctx deadline passed. Such errors
	// also match context.DeadlineExceeded.
	ErrTimeout = errors.New("xhr: timeout")
	// ErrAborted: the request was aborted, by ctx (the error then also
	// matches context.Canceled) or by the browser.
	ErrAborted = errors.New("xhr: aborted")
	// ErrNetwork: the request failed with status 0. A CORS refusal, a
	// refused or dropped connection, a blocked mixed-content or CSP
	// request all look alike to the page: the browser hides the reason.
	ErrNetwork = errors.New("xhr: network error (status 0): a CORS refusal or a failed or dropped connection")
	// ErrForbiddenHeader: the header is one the browser controls (Fetch
	// spec "forbidden request-header"); browsers drop it silently.
	ErrForbiddenHeader = errors.New("xhr: header is forbidden by the browser")
	// ErrForbiddenMethod: CONNECT, TRACE and TRACK cannot be sent.
	ErrForbiddenMethod = errors.New("xhr: method is forbidden by the browser")
	// ErrInvalid: a malformed method, URL, header name or value.
	ErrInvalid = errors.New("xhr: invalid request")
	// ErrBodyType: Request.Body holds a type Send does not know.
	ErrBodyType = errors.New("xhr: unsupported body type")
	// ErrSync: an option browsers refuse for synchronous requests.
	ErrSync = errors.New("xhr: not allowed for a synchronous request")
	// ErrUnsupported: this JavaScript environment lacks the API.
	ErrUnsupported = errors.New("xhr: not supported in this environment")
	// ErrClosed: Read on a stream body after Close.
	ErrClosed = errors.New("xhr: body closed")
)

// Error is the error of one request: which one, the sentinel, and the
// cause (a context error or a *jsutil.Error), when there is one.
type Error struct {
	Method, URL string
	Err         error // one of the sentinels above
	Cause       error // may be nil
}

func (e *Error) Error() string {
	s := e.Err.Error()
	if e.URL != "" {
		s = e.Method + " " + e.URL + ": " + s
	}
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Unwrap returns the sentinel and the cause, so errors.Is matches both.
func (e *Error) Unwrap() []error {
	errs := []error{e.Err, e.Cause}
	if e.Cause == nil {
		return errs[:1]
	}
	return errs
}
