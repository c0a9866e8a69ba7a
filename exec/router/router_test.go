package router

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/layouts"
	"github.com/modelfit/modelfit/planner"
	"github.com/modelfit/modelfit/probe"
)

// fakeBackend is an HTTP server standing in for llama-server: it answers
// completions with its model's path, streamed as server-sent events when
// asked to.
type fakeBackend struct {
	srv      *httptest.Server
	done     chan struct{}
	once     sync.Once
	err      error
	hold     chan struct{} // when set, requests wait for it
	starter  *fakeStarter
	closed   atomic.Bool
	requests atomic.Int32
}

func (b *fakeBackend) URL() string           { return b.srv.URL }
func (b *fakeBackend) PID() int              { return 0 }
func (b *fakeBackend) Done() <-chan struct{} { return b.done }
func (b *fakeBackend) Err() error            { return b.err }
func (b *fakeBackend) Close() error {
	b.closed.Store(true)
	b.exit(nil)
	return nil
}

// exit ends the backend, as a crash when err is set.
func (b *fakeBackend) exit(err error) {
	b.once.Do(func() {
		b.err = err
		b.srv.CloseClientConnections()
		b.srv.Close()
		b.starter.running.Add(-1)
		close(b.done)
	})
}

// fakeStarter starts fake backends and counts them.
type fakeStarter struct {
	mu       sync.Mutex
	started  []string // model paths, in order
	backends []*fakeBackend
	running  atomic.Int32
	peak     atomic.Int32
	delay    time.Duration
	block    chan struct{} // when set, starts wait for it
	hold     chan struct{}
}

func (s *fakeStarter) start(ctx context.Context, p *planner.Plan) (Backend, error) {
	if s.block != nil {
		select {
		case <-s.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	time.Sleep(s.delay)
	b := &fakeBackend{done: make(chan struct{}), starter: s, hold: s.hold}
	path := p.Model.Path
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.requests.Add(1)
		if b.hold != nil {
			<-b.hold
		}
		var req struct {
			Stream bool `json:"stream"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		if !req.Stream {
			fmt.Fprintf(w, `{"served_by":%q,"path":%q}`, path, r.URL.Path)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 3 {
			fmt.Fprintf(w, "data: {\"chunk\":%d,\"served_by\":%q}\n\n", i, path)
			w.(http.Flusher).Flush()
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
	}))
	s.mu.Lock()
	s.started = append(s.started, path)
	s.backends = append(s.backends, b)
	s.mu.Unlock()
	if n := s.running.Add(1); n > s.peak.Load() {
		s.peak.Store(n)
	}
	return b, nil
}

func (s *fakeStarter) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.started)
}

func (s *fakeStarter) paths() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.started...)
}

func (s *fakeStarter) last() *fakeBackend {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.backends[len(s.backends)-1]
}

var (
	headerOnce sync.Once
	header     *gguf.File
)

// oneB is the header of a 1B Q8_0 layout: on the CPU it holds about
// 420 MiB of anonymous memory and wants 1.2 GiB of page cache.
func oneB(t testing.TB) *gguf.File {
	headerOnce.Do(func() {
		s, _ := layouts.ByID("llama-3.2-1b-q8_0")
		l, err := layouts.Build(s)
		if err != nil {
			t.Fatal(err)
		}
		if header, err = l.File(); err != nil {
			t.Fatal(err)
		}
	})
	return header
}

// newRouter serves models a, b and c (copies of the 1B layout) on a
// machine of ram bytes.
func newRouter(t *testing.T, ram uint64, s *fakeStarter, opts Options) (*Router, *httptest.Server) {
	t.Helper()
	machine := probe.Describe(probe.Description{RAMBytes: ram, Cores: 4, Features: []string{"avx2", "fma", "f16c"}})
	for _, n := range []string{"a", "b", "c"} {
		m := Model{Name: n, File: oneB(t), Request: planner.Request{ModelPath: "/models/" + n + ".gguf"}}
		if n == "a" {
			m.Aliases = []string{"alpha"}
		}
		opts.Models = append(opts.Models, m)
	}
	opts.Machine = func(context.Context) (*probe.Snapshot, error) { return machine, nil }
	opts.Start = s.start
	r, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r.Handler())
	t.Cleanup(func() {
		srv.Close()
		if err := r.Close(); err != nil {
			t.Error(err)
		}
		if n := s.running.Load(); n != 0 {
			t.Errorf("%d backends outlive the router", n)
		}
	})
	return r, srv
}

type answer struct {
	status int
	body   string
}

func post(t *testing.T, srv *httptest.Server, path, body string) answer {
	t.Helper()
	resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(b)}
}

func complete(t *testing.T, srv *httptest.Server, model string) answer {
	return post(t, srv, "/v1/completions", fmt.Sprintf(`{"model":%q,"prompt":"hi","max_tokens":2}`, model))
}

func TestRouting(t *testing.T) {
	s := &fakeStarter{}
	_, srv := newRouter(t, 32<<30, s, Options{MaxBodyBytes: 1 << 10})
	for _, tt := range []struct {
		name, path, body string
		status           int
		want             string
	}{
		{"by name", "/v1/completions", `{"model":"b","prompt":"x"}`, 200, `"served_by":"/models/b.gguf","path":"/v1/completions"`},
		{"by alias", "/v1/chat/completions", `{"model":"alpha","messages":[]}`, 200, `"served_by":"/models/a.gguf","path":"/v1/chat/completions"`},
		{"unknown model", "/v1/completions", `{"model":"zeta"}`, 404, `"code": "model_not_found"`},
		{"no model", "/v1/completions", `{"prompt":"x"}`, 404, `names no \"model\"`},
		{"not JSON", "/v1/completions", `model=a`, 400, `"code": "invalid_json"`},
		{"body too large", "/v1/completions", `{"model":"a","prompt":"` + strings.Repeat("x", 2000) + `"}`, 413, `exceeds 1024 bytes`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := post(t, srv, tt.path, tt.body)
			if a.status != tt.status || !strings.Contains(a.body, tt.want) {
				t.Errorf("%d %s, want %d with %s", a.status, a.body, tt.status, tt.want)
			}
		})
	}
	resp, err := http.Get(srv.URL + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Data []struct{ ID string } `json:"data"`
	}
	json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if fmt.Sprint(list.Data) != "[{a} {alpha} {b} {c}]" {
		t.Errorf("/v1/models: %v", list.Data)
	}
	if s.count() != 2 {
		t.Errorf("started %v, want a and b once each", s.paths())
	}
}

func TestStreaming(t *testing.T) {
	s := &fakeStarter{}
	_, srv := newRouter(t, 32<<30, s, Options{})
	resp, err := http.Post(srv.URL+"/v1/completions", "application/json", strings.NewReader(`{"model":"c","stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("content type %q", ct)
	}
	var events []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if line := sc.Text(); line != "" {
			events = append(events, line)
		}
	}
	if len(events) != 4 || events[3] != "data: [DONE]" || !strings.Contains(events[0], `"chunk":0`) {
		t.Errorf("events %q", events)
	}
}

// The machine holds two of the three models: requests alternating between
// them evict the least recently used, never run three at once, and /status
// says why.
func TestEvictions(t *testing.T) {
	s := &fakeStarter{}
	// Each model: ~0.42 GiB anonymous + 1.2 GiB page cache; two and the
	// 1 GiB margin fit in 4.5 GiB, three do not.
	r, srv := newRouter(t, 9<<29, s, Options{})
	for i := range 9 {
		m := []string{"a", "b", "c"}[i%3]
		if a := complete(t, srv, m); a.status != 200 || !strings.Contains(a.body, "/models/"+m+".gguf") {
			t.Fatalf("request %d for %s: %d %s", i, m, a.status, a.body)
		}
	}
	if p := s.peak.Load(); p != 2 {
		t.Errorf("at most %d backends at once, want 2", p)
	}
	if s.count() != 9 {
		t.Errorf("started %v: LRU with room for two reloads every model of a cycle of three", s.paths())
	}
	st := r.Status()
	var evictions int
	for _, d := range st.Decisions {
		if d.Action == "evict" {
			evictions++
			if len(d.Evict) != 1 || !strings.Contains(d.Evict[0].Why, "frees") || len(d.Reasons) == 0 {
				t.Errorf("eviction without its reason: %+v", d)
			}
		}
	}
	if evictions != 7 {
		t.Errorf("%d evictions, want 7: %+v", evictions, st.Decisions)
	}
	var unloads int
	for _, e := range st.Events {
		if e.Kind == "unload" && strings.HasPrefix(e.Message, "evicted for ") {
			unloads++
		}
	}
	if unloads != 7 {
		t.Errorf("%d unload events: %+v", unloads, st.Events)
	}
	var loaded int
	for _, m := range st.Models {
		if m.State == "ready" {
			loaded++
			if m.Planned == nil || m.Settings == nil || len(m.LlamaArgs) == 0 {
				t.Errorf("%s: no plan in the status", m.Name)
			}
		}
	}
	if loaded != 2 {
		t.Errorf("%d models ready", loaded)
	}
}

func TestKeepAlive(t *testing.T) {
	s := &fakeStarter{}
	r, srv := newRouter(t, 32<<30, s, Options{KeepAlive: 50 * time.Millisecond})
	if a := complete(t, srv, "a"); a.status != 200 {
		t.Fatal(a)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.running.Load() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !s.last().closed.Load() {
		t.Fatal("the idle model was not unloaded after its keep-alive")
	}
	var found bool
	for _, e := range r.Status().Events {
		found = found || e.Kind == "unload" && strings.Contains(e.Message, "keep-alive of 50ms ran out")
	}
	if !found {
		t.Errorf("no unload event: %+v", r.Status().Events)
	}
	// Asked again, it loads again.
	if a := complete(t, srv, "a"); a.status != 200 || s.count() != 2 {
		t.Errorf("%v, started %v", a, s.paths())
	}
}

func TestCrashRestartedOnce(t *testing.T) {
	s := &fakeStarter{}
	r, srv := newRouter(t, 32<<30, s, Options{})
	if a := complete(t, srv, "b"); a.status != 200 {
		t.Fatal(a)
	}
	s.last().exit(errors.New("llama-server was killed by signal 11"))
	waitFor(t, func() bool {
		return len(r.Status().Models) > 0 && r.Status().Models[1].Restarts == 1 && r.Status().Models[1].State == "ready"
	})
	if a := complete(t, srv, "b"); a.status != 200 || s.count() != 2 {
		t.Fatalf("after the restart: %v, started %v", a, s.paths())
	}
	s.last().exit(errors.New("llama-server was killed by signal 11"))
	waitFor(t, func() bool { return r.Status().Models[1].State == "failed" })
	a := complete(t, srv, "b")
	if a.status != 502 || !strings.Contains(a.body, "crashed again after a restart: llama-server was killed by signal 11") {
		t.Errorf("after the second crash: %v", a)
	}
	var crashes int
	for _, e := range r.Status().Events {
		if e.Kind == "crashed" {
			crashes++
		}
	}
	if crashes != 2 {
		t.Errorf("%d crash events", crashes)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Requests wait while their model loads; past the queue's bound they are
// refused, and a request that waits too long times out.
func TestQueueAndTimeout(t *testing.T) {
	s := &fakeStarter{block: make(chan struct{})}
	r, srv := newRouter(t, 32<<30, s, Options{MaxQueue: 2, RequestTimeout: 2 * time.Second})
	answers := make(chan answer, 2)
	for range 2 {
		go func() { answers <- complete(t, srv, "a") }()
	}
	waitFor(t, func() bool { return r.Status().Waiting == 2 })
	if a := complete(t, srv, "a"); a.status != 429 || !strings.Contains(a.body, "queue_full") {
		t.Errorf("third request: %v", a)
	}
	close(s.block)
	for range 2 {
		if a := <-answers; a.status != 200 {
			t.Errorf("queued request: %v", a)
		}
	}
	if s.count() != 1 {
		t.Errorf("started %v: one load serves the queue", s.paths())
	}
	// A model that never becomes ready: the request gives up.
	s2 := &fakeStarter{block: make(chan struct{})}
	_, srv2 := newRouter(t, 32<<30, s2, Options{RequestTimeout: 100 * time.Millisecond})
	if a := complete(t, srv2, "a"); a.status != 504 || !strings.Contains(a.body, "gave up waiting") {
		t.Errorf("timeout: %v", a)
	}
}

// A model that does not fit is never started.
func TestRefuse(t *testing.T) {
	s := &fakeStarter{}
	r, srv := newRouter(t, 1<<30, s, Options{})
	a := complete(t, srv, "a")
	if a.status != 503 || !strings.Contains(a.body, "model_does_not_fit") || s.count() != 0 {
		t.Errorf("%v, started %v", a, s.paths())
	}
	if d := r.Status().Decisions; len(d) != 1 || d[0].Action != "refuse" || d[0].Why == "" {
		t.Errorf("decisions %+v", d)
	}
}

// A busy model is not evicted under a request: the new one waits for it.
func TestBusyNotEvicted(t *testing.T) {
	s := &fakeStarter{hold: make(chan struct{})}
	r, srv := newRouter(t, 9<<29, s, Options{})
	answers := make(chan answer, 3)
	go func() { answers <- complete(t, srv, "a") }()
	waitFor(t, func() bool { return s.count() == 1 && s.last().requests.Load() == 1 })
	go func() { answers <- complete(t, srv, "b") }()
	waitFor(t, func() bool { return s.count() == 2 && s.last().requests.Load() == 1 })
	go func() { answers <- complete(t, srv, "c") }()
	waitFor(t, func() bool {
		d := r.Status().Decisions
		return len(d) > 0 && d[len(d)-1].Action == "wait"
	})
	if s.running.Load() != 2 {
		t.Errorf("%d running", s.running.Load())
	}
	close(s.hold)
	for range 3 {
		if a := <-answers; a.status != 200 {
			t.Errorf("%v", a)
		}
	}
	if p := s.peak.Load(); p != 2 {
		t.Errorf("peak %d backends", p)
	}
}

// A negative keep-alive keeps an idle model loaded until its room is
// needed: the janitor (which looks every second then) leaves it alone.
func TestKeepAliveNegative(t *testing.T) {
	s := &fakeStarter{}
	r, srv := newRouter(t, 32<<30, s, Options{KeepAlive: -1})
	if a := complete(t, srv, "a"); a.status != 200 {
		t.Fatal(a)
	}
	time.Sleep(1500 * time.Millisecond)
	if s.last().closed.Load() || s.running.Load() != 1 || r.Status().Models[0].State != "ready" {
		t.Fatalf("the idle model was unloaded with a negative keep-alive: %+v", r.Status().Events)
	}
}
