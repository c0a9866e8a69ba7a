package gguf

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// remoteFirstChunk is the first range request's size. The cursor then grows
// reads fourfold, so a header of up to 42 MiB costs at most three requests
// (2 + 8 + 32 MiB); the largest released headers (big vocabularies) are ~10 MiB.
const remoteFirstChunk = 2 << 20

// maxStreamedHeader caps what is buffered from a server that ignores Range:
// the header is read from the start of the body and the rest is never
// downloaded, but a header cannot be longer than this.
const maxStreamedHeader = 128 << 20

// Defaults of RemoteOptions.
const (
	DefaultRemoteTimeout  = 30 * time.Second // the whole header download
	DefaultConnectTimeout = 10 * time.Second // TCP connect and TLS handshake, each
	DefaultHeaderTimeout  = 15 * time.Second // from the request sent to the response headers
	DefaultIdleTimeout    = 15 * time.Second // longest wait for the next body bytes
	DefaultRetries        = 3                // after the first attempt, for 5xx, 429 and broken connections
)

// RemoteOptions bound and observe the HTTP reads of ParseURLOptions. The
// zero value means the defaults above.
type RemoteOptions struct {
	// Client sends the requests; nil means NewRemoteClient(). A client of
	// your own keeps its transport's timeouts; Timeout, IdleTimeout and
	// Retries apply on top.
	Client *http.Client
	// Timeout bounds the whole download of the header (all requests and
	// retries); the context's deadline, when earlier, wins. <0: none.
	Timeout time.Duration
	// IdleTimeout bounds the wait for the next bytes of a response body.
	IdleTimeout time.Duration
	// Retries is how many times a request is repeated after a 5xx or 429
	// answer or a broken connection, with exponential backoff from
	// RetryBackoff (default 500 ms). <0: never.
	Retries      int
	RetryBackoff time.Duration
	// Progress, when set, is called as header bytes arrive: the bytes read
	// so far over all requests, and the file's size (-1 while unknown).
	Progress func(read, size int64)
}

// NewRemoteClient returns an HTTP client whose every phase is bounded:
// connect and TLS handshake (DefaultConnectTimeout), response headers
// (DefaultHeaderTimeout). Idle bodies and the total are bounded per request
// by ParseURLOptions.
func NewRemoteClient() *http.Client {
	d := &net.Dialer{Timeout: DefaultConnectTimeout, KeepAlive: 30 * time.Second}
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		TLSHandshakeTimeout:   DefaultConnectTimeout,
		ResponseHeaderTimeout: DefaultHeaderTimeout,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       30 * time.Second,
		ForceAttemptHTTP2:     true,
	}}
}

// ParseURL reads the header of a remote GGUF file with HTTP range requests
// and parses it; the tensor data is never downloaded. A split model's other
// parts are found by name next to the first. client may be nil (a client
// from NewRemoteClient); the defaults of RemoteOptions bound the download.
func ParseURL(ctx context.Context, url string, client *http.Client) (*File, error) {
	return ParseURLOptions(ctx, url, RemoteOptions{Client: client})
}

// ParseURLOptions is ParseURL with the bounds and progress of opts. Errors
// name the URL and the phase that failed (connect, response headers, body,
// timeout) and match context.DeadlineExceeded when a timeout expired.
func ParseURLOptions(ctx context.Context, url string, opts RemoteOptions) (*File, error) {
	if opts.Client == nil {
		opts.Client = NewRemoteClient()
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultRemoteTimeout
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	switch {
	case opts.Retries == 0:
		opts.Retries = DefaultRetries
	case opts.Retries < 0:
		opts.Retries = 0
	}
	if opts.RetryBackoff <= 0 {
		opts.RetryBackoff = 500 * time.Millisecond
	}
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, opts.Timeout, &timeoutError{opts.Timeout})
		defer cancel()
	}
	prog := &progress{fn: opts.Progress}
	var remotes []*remote
	open := func(u string) (io.ReaderAt, int64, io.Closer, error) {
		r, err := openRemote(ctx, &opts, prog, u)
		if err != nil {
			return nil, 0, nil, err
		}
		remotes = append(remotes, r)
		return r, r.size, r, nil
	}
	f, err := openSplitChunk(url, open, remoteFirstChunk)
	// The header is parsed: stop any body still streaming, and detach the
	// readers from the download's context, which ends on return.
	for _, r := range remotes {
		r.finish()
	}
	return f, err
}

// timeoutError is the cause of the total timeout.
type timeoutError struct{ d time.Duration }

func (e *timeoutError) Error() string   { return fmt.Sprintf("timed out after %v", e.d) }
func (e *timeoutError) Unwrap() error   { return context.DeadlineExceeded }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return false }

// idleError cancels a request whose body stalls.
type idleError struct{ d time.Duration }

func (e *idleError) Error() string { return fmt.Sprintf("no data for %v", e.d) }
func (e *idleError) Unwrap() error { return context.DeadlineExceeded }

// progress sums the bytes read by every request of one download.
type progress struct {
	mu   sync.Mutex
	fn   func(read, size int64)
	read int64
	size int64
}

func (p *progress) add(n, size int64) {
	if p.fn == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.read += n
	if size > 0 {
		p.size = size
	}
	total := p.size
	if total == 0 {
		total = -1
	}
	p.fn(p.read, total)
}

// remote is an io.ReaderAt over HTTP range requests. It keeps the bytes of
// the first response so the parser's first read costs nothing more. When
// the server ignores Range, it reads the header from the start of the one
// response body as the parser asks for it, and closes the body when parsed.
type remote struct {
	ctx  context.Context
	opts *RemoteOptions
	prog *progress
	url  string
	size int64

	mu     sync.Mutex
	head   []byte        // bytes [0, len(head)) of the file
	stream io.ReadCloser // the unranged body being read, or nil
	done   bool          // parsing is over: no more requests on ctx
}

func openRemote(ctx context.Context, opts *RemoteOptions, prog *progress, url string) (*remote, error) {
	r := &remote{ctx: ctx, opts: opts, prog: prog, url: url}
	body, total, stream, err := r.get(0, remoteFirstChunk)
	if err != nil {
		return nil, err
	}
	r.head, r.size, r.stream = body, total, stream
	return r, nil
}

// finish closes a streaming body: the parser has what it needs.
func (r *remote) finish() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done = true
	if r.stream != nil {
		r.stream.Close()
		r.stream = nil
	}
}

// Close releases the streaming body, if any.
func (r *remote) Close() error {
	r.finish()
	return nil
}

// get fetches [off, off+n) with retries and returns the bytes and the
// file's total size; for a server that ignores Range at offset 0 it returns
// the first n bytes and the open body to read the rest from.
func (r *remote) get(off, n int64) (body []byte, total int64, stream io.ReadCloser, err error) {
	wait := r.opts.RetryBackoff
	for attempt := 0; ; attempt++ {
		var retry bool
		body, total, stream, retry, err = r.try(off, n)
		if err == nil || !retry || attempt >= r.opts.Retries {
			return body, total, stream, err
		}
		t := time.NewTimer(wait)
		select {
		case <-r.ctx.Done():
			t.Stop()
			return nil, 0, nil, err
		case <-t.C:
		}
		wait *= 2
	}
}

// try makes one request. retry says the failure may pass: a 5xx or 429
// answer, or a connection broken before the answer was complete.
func (r *remote) try(off, n int64) (body []byte, total int64, stream io.ReadCloser, retry bool, err error) {
	ctx, cancel := context.WithCancelCause(r.ctx)
	defer func() {
		if stream == nil {
			cancel(nil)
		}
	}()
	var connected, answered bool
	trace := &httptrace.ClientTrace{
		GotConn:              func(httptrace.GotConnInfo) { connected = true },
		GotFirstResponseByte: func() { answered = true },
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodGet, r.url, nil)
	if err != nil {
		return nil, 0, nil, false, fmt.Errorf("gguf: %s: %w", r.url, err)
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+n-1))
	resp, err := r.opts.Client.Do(req)
	if err != nil {
		phase := "connect"
		switch {
		case answered:
			phase = "reading the response headers"
		case connected:
			phase = "waiting for the response headers"
		}
		return nil, 0, nil, r.transient(ctx, err), r.fail(phase, context.Cause(ctx), err)
	}
	closeBody := true
	defer func() {
		if closeBody {
			resp.Body.Close()
		}
	}()
	// Watch the body: a stall longer than the idle timeout cancels it.
	idle := time.AfterFunc(r.opts.IdleTimeout, func() { cancel(&idleError{r.opts.IdleTimeout}) })
	defer func() {
		if stream == nil {
			idle.Stop()
		}
	}()
	watched := &watchedBody{ReadCloser: resp.Body, idle: idle, d: r.opts.IdleTimeout, prog: r.prog}
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "text/html") && resp.StatusCode/100 == 2 {
		return nil, 0, nil, false, fmt.Errorf("gguf: %s: the server answered with an HTML page (Content-Type %s), not a GGUF file", r.url, ct)
	}
	switch resp.StatusCode {
	case http.StatusPartialContent:
		total, err := contentRangeTotal(resp.Header.Get("Content-Range"))
		if err != nil {
			return nil, 0, nil, false, fmt.Errorf("gguf: %s: %w", r.url, err)
		}
		r.prog.add(0, total)
		want := min(n, max(0, total-off))
		body, err := io.ReadAll(io.LimitReader(watched, want))
		if err != nil {
			return nil, 0, nil, r.transient(ctx, err), r.fail(fmt.Sprintf("reading bytes %d-%d", off, off+want-1), context.Cause(ctx), err)
		}
		if int64(len(body)) != want {
			return nil, 0, nil, true, fmt.Errorf("gguf: GET %s: range %d-%d returned %d bytes, want %d", r.url, off, off+want-1, len(body), want)
		}
		return body, total, nil, false, nil
	case http.StatusOK:
		if off != 0 {
			return nil, 0, nil, false, fmt.Errorf("gguf: GET %s: the server ignored the Range header for bytes %d-%d", r.url, off, off+n-1)
		}
		// The server ignores Range: the header is at the start of the
		// body. Read what the first chunk would have held and keep the
		// body open for the parser's further reads.
		size := resp.ContentLength
		r.prog.add(0, size)
		body, err := io.ReadAll(io.LimitReader(watched, n))
		if err != nil {
			return nil, 0, nil, r.transient(ctx, err), r.fail("reading the body", context.Cause(ctx), err)
		}
		if int64(len(body)) < n {
			return body, int64(len(body)), nil, false, nil // the whole file
		}
		if size < 0 {
			// No Content-Length: the parser needs the size to bound its
			// reads; read on to the end, within the header cap.
			rest, err := io.ReadAll(io.LimitReader(watched, maxStreamedHeader-n+1))
			if err != nil {
				return nil, 0, nil, r.transient(ctx, err), r.fail("reading the body", context.Cause(ctx), err)
			}
			if int64(len(body)+len(rest)) > maxStreamedHeader {
				return nil, 0, nil, false, fmt.Errorf("gguf: GET %s: the server ignores Range and sends no Content-Length; over %d MiB read without reaching the end", r.url, maxStreamedHeader>>20)
			}
			body = append(body, rest...)
			return body, int64(len(body)), nil, false, nil
		}
		closeBody = false
		return body, size, &cancelOnClose{watched, ctx, func() { cancel(nil) }}, false, nil
	case http.StatusRequestedRangeNotSatisfiable:
		// An empty file answers 416 to bytes=0-…
		if total, err := contentRangeTotal(resp.Header.Get("Content-Range")); err == nil && total == 0 {
			return nil, 0, nil, false, nil
		}
	}
	retry = resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
	return nil, 0, nil, retry, fmt.Errorf("gguf: GET %s: HTTP %s", r.url, resp.Status)
}

// fail words a request's failure: the URL, the phase, and what ended it:
// the total timeout, an idle body, or the error itself. cause is the
// request context's cause (nil when it was not cancelled).
func (r *remote) fail(phase string, cause, err error) error {
	var te *timeoutError
	var ie *idleError
	switch {
	case errors.As(context.Cause(r.ctx), &te):
		return fmt.Errorf("gguf: GET %s: %s: %w", r.url, phase, te)
	case errors.As(cause, &ie):
		return fmt.Errorf("gguf: GET %s: %s: %w", r.url, phase, ie)
	case err == nil:
		err = cause
	}
	return fmt.Errorf("gguf: GET %s: %s: %w", r.url, phase, err)
}

// transient reports whether a request that failed with err on ctx may
// succeed when repeated: a broken or refused connection or a stalled body,
// not the end of the whole download or a cancellation by the caller.
func (r *remote) transient(ctx context.Context, err error) bool {
	if r.ctx.Err() != nil {
		return false
	}
	var ie *idleError
	if errors.As(context.Cause(ctx), &ie) {
		return true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	// A broken connection; not a refused redirect or a bad certificate.
	var op *net.OpError
	var dns *net.DNSError
	return errors.As(err, &op) || errors.As(err, &dns) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE)
}

// watchedBody resets the idle timer on every read and reports progress.
type watchedBody struct {
	io.ReadCloser
	idle *time.Timer
	d    time.Duration
	prog *progress
}

func (w *watchedBody) Read(p []byte) (int, error) {
	n, err := w.ReadCloser.Read(p)
	if n > 0 {
		w.idle.Reset(w.d)
		w.prog.add(int64(n), 0)
	}
	return n, err
}

// cancelOnClose ends the request's context when the streamed body closes.
type cancelOnClose struct {
	*watchedBody
	ctx    context.Context
	cancel func()
}

func (c *cancelOnClose) Close() error {
	c.idle.Stop()
	err := c.watchedBody.Close()
	c.cancel()
	return err
}

// contentRangeTotal parses the total of "bytes a-b/total" (or "bytes */total").
func contentRangeTotal(h string) (int64, error) {
	i := strings.LastIndexByte(h, '/')
	if !strings.HasPrefix(h, "bytes ") || i < 0 {
		return 0, fmt.Errorf("unusable Content-Range %q", h)
	}
	total, err := strconv.ParseInt(h[i+1:], 10, 64)
	if err != nil || total < 0 {
		return 0, fmt.Errorf("Content-Range %q has no total size", h)
	}
	return total, nil
}

// ReadAt serves reads from the bytes already fetched where it can, else
// from the streaming body, else with one range request.
func (r *remote) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("gguf: negative offset")
	}
	if off >= r.size {
		return 0, io.EOF
	}
	r.mu.Lock()
	end := min(off+int64(len(p)), r.size)
	if end > int64(len(r.head)) && r.stream != nil {
		if err := r.fill(end); err != nil {
			r.mu.Unlock()
			return 0, err
		}
	}
	if end <= int64(len(r.head)) {
		n := copy(p, r.head[off:end])
		r.mu.Unlock()
		if n < len(p) {
			return n, io.EOF
		}
		return n, nil
	}
	done := r.done
	r.mu.Unlock()
	if done {
		// The download is over (its context with it): a later read of a
		// part not fetched gets its own bounded request.
		ctx, cancel := context.WithTimeout(context.Background(), DefaultRemoteTimeout)
		defer cancel()
		c := &remote{ctx: ctx, opts: r.opts, prog: r.prog, url: r.url, size: r.size}
		return c.readRange(p, off)
	}
	return r.readRange(p, off)
}

func (r *remote) readRange(p []byte, off int64) (int, error) {
	body, _, stream, err := r.get(off, int64(len(p)))
	if stream != nil {
		stream.Close()
	}
	n := copy(p, body)
	if err == nil && n < len(p) {
		err = io.EOF
	}
	return n, err
}

// fill reads the streaming body until head holds [0, end); r.mu is held.
func (r *remote) fill(end int64) error {
	if end > maxStreamedHeader {
		return fmt.Errorf("gguf: GET %s: the server ignores Range and the header would reach past %d MiB", r.url, maxStreamedHeader>>20)
	}
	grow := max(end, min(int64(len(r.head))*2, maxStreamedHeader, r.size))
	buf := make([]byte, grow-int64(len(r.head)))
	n, err := io.ReadFull(r.stream, buf)
	r.head = append(r.head, buf[:n]...)
	if int64(len(r.head)) >= end {
		return nil
	}
	var cause error
	if c, ok := r.stream.(*cancelOnClose); ok {
		cause = context.Cause(c.ctx)
	}
	r.stream.Close()
	r.stream = nil
	if err == nil || errors.Is(err, io.ErrUnexpectedEOF) {
		err = fmt.Errorf("the body ended at byte %d of %d: %w", len(r.head), r.size, io.ErrUnexpectedEOF)
	}
	return r.fail("reading the body", cause, err)
}
