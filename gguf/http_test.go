package gguf

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelfit/modelfit/internal/testutil"
)

// hangingListener accepts connections and never answers.
func hangingListener(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + ln.Addr().String() + "/model.gguf"
}

// TestParseURLBounds: every phase of the download is bounded and a failure
// names the URL and the phase.
func TestParseURLBounds(t *testing.T) {
	model, err := os.ReadFile(testutil.Path("models", "synth-llama-gqa-Q2_K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(strings.NewReader(string(model)), int64(len(model)))
	if err != nil {
		t.Fatal(err)
	}
	header := model[:f.DataOffset]
	short := &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: 300 * time.Millisecond}}
	fast := RemoteOptions{Client: short, Timeout: 5 * time.Second, IdleTimeout: 300 * time.Millisecond, RetryBackoff: time.Millisecond}

	t.Run("server never answers", func(t *testing.T) {
		url := hangingListener(t)
		start := time.Now()
		_, err := ParseURLOptions(context.Background(), url, fast)
		if err == nil || !strings.Contains(err.Error(), url) || !strings.Contains(err.Error(), "waiting for the response headers") {
			t.Fatalf("err = %v", err)
		}
		if d := time.Since(start); d > 4*time.Second {
			t.Errorf("took %v", d)
		}
	})
	t.Run("total timeout", func(t *testing.T) {
		url := hangingListener(t)
		opts := fast
		opts.Client, opts.Timeout = &http.Client{}, 400*time.Millisecond
		_, err := ParseURLOptions(context.Background(), url, opts)
		if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out after 400ms") || !strings.Contains(err.Error(), url) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("caller's context", func(t *testing.T) {
		url := hangingListener(t)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		opts := fast
		opts.Client = &http.Client{}
		if _, err := ParseURLOptions(ctx, url, opts); err == nil || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("body stalls", func(t *testing.T) {
		var n atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			w.Header().Set("Content-Range", "bytes 0-2097151/"+strconv.Itoa(len(model)))
			w.WriteHeader(http.StatusPartialContent)
			w.Write(header[:100])
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}))
		defer srv.Close()
		_, err := ParseURLOptions(context.Background(), srv.URL+"/m.gguf", fast)
		if err == nil || !strings.Contains(err.Error(), "no data for 300ms") || !strings.Contains(err.Error(), "reading bytes 0-") {
			t.Fatalf("err = %v", err)
		}
		if got := n.Load(); got != 1+DefaultRetries {
			t.Errorf("%d requests, want %d (retried)", got, 1+DefaultRetries)
		}
	})
	t.Run("5xx then success", func(t *testing.T) {
		var n atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) <= 2 {
				http.Error(w, "busy", http.StatusServiceUnavailable)
				return
			}
			http.ServeContent(w, r, "m.gguf", time.Time{}, strings.NewReader(string(model)))
		}))
		defer srv.Close()
		f, err := ParseURLOptions(context.Background(), srv.URL+"/m.gguf", fast)
		if err != nil || len(f.Tensors) == 0 {
			t.Fatalf("err = %v", err)
		}
		if n.Load() != 3 {
			t.Errorf("%d requests, want 3", n.Load())
		}
	})
	t.Run("connection reset then success", func(t *testing.T) {
		var n atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				c, _, _ := w.(http.Hijacker).Hijack()
				c.(*net.TCPConn).SetLinger(0)
				c.Close()
				return
			}
			http.ServeContent(w, r, "m.gguf", time.Time{}, strings.NewReader(string(model)))
		}))
		defer srv.Close()
		if _, err := ParseURLOptions(context.Background(), srv.URL+"/m.gguf", fast); err != nil {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("5xx for good", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "down", http.StatusBadGateway)
		}))
		defer srv.Close()
		_, err := ParseURLOptions(context.Background(), srv.URL+"/m.gguf", fast)
		if err == nil || !strings.Contains(err.Error(), "HTTP 502") || !strings.Contains(err.Error(), srv.URL+"/m.gguf") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("404 is not retried", func(t *testing.T) {
		var n atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			http.NotFound(w, r)
		}))
		defer srv.Close()
		_, err := ParseURLOptions(context.Background(), srv.URL+"/m.gguf", fast)
		if err == nil || !strings.Contains(err.Error(), "HTTP 404") || n.Load() != 1 {
			t.Fatalf("err = %v after %d requests", err, n.Load())
		}
	})
	t.Run("HTML page", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, "<!doctype html><title>Sign in</title>")
		}))
		defer srv.Close()
		_, err := ParseURLOptions(context.Background(), srv.URL+"/m.gguf", fast)
		if err == nil || !strings.Contains(err.Error(), "HTML page") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("server ignores Range on a large file", func(t *testing.T) {
		// 1 GiB announced: the header is read from the start of the body
		// and the body closed; the rest is never sent.
		const size = 1 << 30
		var sent atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(size))
			w.Header().Set("Content-Type", "application/octet-stream")
			n, _ := w.Write(model)
			sent.Add(int64(n))
			zeros := make([]byte, 1<<20)
			for sent.Load() < size {
				n, err := w.Write(zeros[:min(len(zeros), size-int(sent.Load()))])
				sent.Add(int64(n))
				if err != nil {
					return
				}
			}
		}))
		defer srv.Close()
		var progress atomic.Int64
		opts := fast
		opts.Progress = func(read, total int64) { progress.Store(read) }
		f, err := ParseURLOptions(context.Background(), srv.URL+"/big.gguf", opts)
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Tensors) == 0 || f.DataOffset != int64(len(header)) {
			t.Errorf("parsed %d tensors, data at %d", len(f.Tensors), f.DataOffset)
		}
		srv.Close()
		if s := sent.Load(); s > 256<<20 {
			t.Errorf("server sent %d bytes: the body was not closed after the header", s)
		}
		if progress.Load() < int64(len(header)) {
			t.Errorf("progress reported %d bytes", progress.Load())
		}
	})
}
