package gguf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// remoteFirstChunk is the first range request's size. The cursor then grows
// reads fourfold, so a header of up to 42 MiB costs at most three requests
// (2 + 8 + 32 MiB); the largest released headers (big vocabularies) are ~10 MiB.
const remoteFirstChunk = 2 << 20

// maxUnrangedBody caps what is read from a server that ignores Range.
const maxUnrangedBody = 64 << 20

// ParseURL reads the header of a remote GGUF file with HTTP range requests
// and parses it; the tensor data is never downloaded. A split model's other
// parts are found by name next to the first. client may be nil
// (http.DefaultClient).
func ParseURL(ctx context.Context, url string, client *http.Client) (*File, error) {
	if client == nil {
		client = http.DefaultClient
	}
	open := func(u string) (io.ReaderAt, int64, io.Closer, error) {
		r, err := openRemote(ctx, client, u)
		if err != nil {
			return nil, 0, nil, err
		}
		return r, r.size, nil, nil
	}
	return openSplitChunk(url, open, remoteFirstChunk)
}

// remote is an io.ReaderAt over HTTP range requests. It keeps the bytes of
// the first response so the parser's first read costs nothing more.
type remote struct {
	ctx    context.Context
	client *http.Client
	url    string
	size   int64
	head   []byte // bytes [0, len(head)) of the file
}

func openRemote(ctx context.Context, client *http.Client, url string) (*remote, error) {
	r := &remote{ctx: ctx, client: client, url: url}
	body, total, err := r.get(0, remoteFirstChunk)
	if err != nil {
		return nil, err
	}
	r.head, r.size = body, total
	return r, nil
}

// get fetches [off, off+n) and returns the bytes and the file's total size.
func (r *remote) get(off, n int64) ([]byte, int64, error) {
	req, err := http.NewRequestWithContext(r.ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("gguf: %s: %w", r.url, err)
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+n-1))
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("gguf: %s: %w", r.url, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusPartialContent:
		total, err := contentRangeTotal(resp.Header.Get("Content-Range"))
		if err != nil {
			return nil, 0, fmt.Errorf("gguf: %s: %w", r.url, err)
		}
		want := min(n, max(0, total-off))
		body, err := io.ReadAll(io.LimitReader(resp.Body, want))
		if err != nil {
			return nil, 0, fmt.Errorf("gguf: %s: reading bytes %d-%d: %w", r.url, off, off+want-1, err)
		}
		if int64(len(body)) != want {
			return nil, 0, fmt.Errorf("gguf: %s: range %d-%d returned %d bytes, want %d", r.url, off, off+want-1, len(body), want)
		}
		return body, total, nil
	case http.StatusOK:
		if off != 0 {
			return nil, 0, fmt.Errorf("gguf: %s: server ignored the Range header", r.url)
		}
		if resp.ContentLength > maxUnrangedBody {
			return nil, 0, fmt.Errorf("gguf: %s: server does not support range requests and the file is %d bytes", r.url, resp.ContentLength)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxUnrangedBody+1))
		if err != nil {
			return nil, 0, fmt.Errorf("gguf: %s: %w", r.url, err)
		}
		if len(body) > maxUnrangedBody {
			return nil, 0, fmt.Errorf("gguf: %s: server does not support range requests and the file exceeds %d bytes", r.url, maxUnrangedBody)
		}
		return body, int64(len(body)), nil
	case http.StatusRequestedRangeNotSatisfiable:
		// An empty file answers 416 to bytes=0-…
		if total, err := contentRangeTotal(resp.Header.Get("Content-Range")); err == nil && total == 0 {
			return nil, 0, nil
		}
	}
	return nil, 0, fmt.Errorf("gguf: %s: HTTP %s", r.url, resp.Status)
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

// ReadAt serves reads from the first response where it can, else one range request.
func (r *remote) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("gguf: negative offset")
	}
	if off >= r.size {
		return 0, io.EOF
	}
	if end := off + int64(len(p)); end <= int64(len(r.head)) {
		return copy(p, r.head[off:end]), nil
	}
	body, _, err := r.get(off, int64(len(p)))
	n := copy(p, body)
	if err == nil && n < len(p) {
		err = io.EOF
	}
	return n, err
}
