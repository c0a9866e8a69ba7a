package router

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/modelfit/modelfit/planner"
)

// Handler returns the router's HTTP interface: the OpenAI-compatible
// /v1/completions and /v1/chat/completions (routed by the body's "model";
// streamed as the backend streams), /v1/models, /status and /health.
func (r *Router) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/completions", r.route)
	mux.HandleFunc("POST /v1/chat/completions", r.route)
	mux.HandleFunc("GET /v1/models", r.listModels)
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, req *http.Request) {
		writeJSON(w, http.StatusOK, r.Status())
	})
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, req *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	return mux
}

// route reads the request's model, waits for its backend and proxies the
// request to it.
func (r *Router) route(w http.ResponseWriter, req *http.Request) {
	ctx, cancel := context.WithTimeout(req.Context(), r.opts.RequestTimeout)
	defer cancel()
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, r.opts.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, &Error{http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the request body exceeds %d bytes", r.opts.MaxBodyBytes)})
			return
		}
		writeError(w, &Error{http.StatusBadRequest, "bad_body", "reading the request body: " + err.Error()})
		return
	}
	var head struct {
		Model string `json:"model"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		writeError(w, &Error{http.StatusBadRequest, "invalid_json", "the body is not a JSON object: " + err.Error()})
		return
	}
	r.mu.Lock()
	e := r.byName[head.Model]
	r.mu.Unlock()
	if e == nil {
		msg := fmt.Sprintf("no model %q; this server has %v", head.Model, r.names())
		if head.Model == "" {
			msg = fmt.Sprintf("the request names no \"model\"; this server has %v", r.names())
		}
		writeError(w, &Error{http.StatusNotFound, "model_not_found", msg})
		return
	}
	b, release, err := r.acquire(ctx, e)
	if err != nil {
		var re *Error
		if !errors.As(err, &re) {
			re = &Error{http.StatusInternalServerError, "internal", err.Error()}
		}
		writeError(w, re)
		return
	}
	defer release()
	target, err := url.Parse(b.URL())
	if err != nil {
		writeError(w, &Error{http.StatusInternalServerError, "internal", err.Error()})
		return
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Body = io.NopCloser(bytes.NewReader(body))
			pr.Out.ContentLength = int64(len(body))
		},
		// Server-sent events pass through as they come.
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			msg := fmt.Sprintf("%s: the backend failed: %v", e.m.Name, err)
			select {
			case <-b.Done():
				if berr := b.Err(); berr != nil {
					msg = fmt.Sprintf("%s: the backend exited: %v", e.m.Name, berr)
				}
			default:
			}
			if ctx.Err() != nil {
				writeError(w, &Error{http.StatusGatewayTimeout, "timeout", fmt.Sprintf("%s: no answer within %s", e.m.Name, r.opts.RequestTimeout)})
				return
			}
			writeError(w, &Error{http.StatusBadGateway, "backend_failed", msg})
		},
	}
	proxy.ServeHTTP(w, req.WithContext(ctx))
}

// listModels answers /v1/models as OpenAI does: every name and alias.
func (r *Router) listModels(w http.ResponseWriter, req *http.Request) {
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	out := struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{Object: "list", Data: []model{}}
	r.mu.Lock()
	names := r.names()
	r.mu.Unlock()
	for _, n := range names {
		out.Data = append(out.Data, model{ID: n, Object: "model", OwnedBy: "modelfit"})
	}
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// writeError answers in OpenAI's error format.
func writeError(w http.ResponseWriter, e *Error) {
	typ := "invalid_request_error"
	if e.Status >= 500 {
		typ = "server_error"
	}
	writeJSON(w, e.Status, map[string]any{"error": map[string]any{"message": e.Message, "type": typ, "code": e.Code}})
}

// SchemaVersion identifies the JSON layout of Status.
const SchemaVersion = "serve-status/v1"

// Status is what /status shows.
type Status struct {
	Schema string `json:"schema"`
	// AvailableBytes is the host memory the decisions start from (the
	// machine without the router's models).
	AvailableBytes uint64           `json:"available_bytes"`
	Models         []ModelStatus    `json:"models"`
	Waiting        int              `json:"waiting"`
	Decisions      []DecisionRecord `json:"decisions"`
	Events         []Event          `json:"events"`
}

// ModelStatus is one model: its state, plan, and memory planned against
// measured.
type ModelStatus struct {
	Name     string     `json:"name"`
	Aliases  []string   `json:"aliases,omitempty"`
	Path     string     `json:"path"`
	State    string     `json:"state"`
	PID      int        `json:"pid,omitempty"`
	URL      string     `json:"url,omitempty"`
	Active   int        `json:"active"`
	LastUsed *time.Time `json:"last_used,omitempty"`
	LoadedAt *time.Time `json:"loaded_at,omitempty"`
	Restarts int        `json:"restarts"`
	Error    string     `json:"error,omitempty"`
	// Settings and LlamaArgs are the plan's, while it is loaded.
	Settings  *planner.Settings `json:"settings,omitempty"`
	LlamaArgs []string          `json:"llama_args,omitempty"`
	Planned   *Planned          `json:"planned,omitempty"`
	Measured  *Measured         `json:"measured,omitempty"`
}

// Planned is what the plan says the model holds.
type Planned struct {
	// AnonBytes is the host allocation; PageCacheBytes the mapped weights
	// decode reads every token.
	AnonBytes      uint64   `json:"anon_bytes"`
	PageCacheBytes uint64   `json:"page_cache_bytes"`
	GPUBytes       []uint64 `json:"gpu_bytes,omitempty"`
}

// Measured is what the backend's process holds now.
type Measured struct {
	RSSAnonBytes      uint64 `json:"rss_anon_bytes"`
	FileResidentBytes uint64 `json:"file_resident_bytes"` // the model file's pages in RAM mapped by the process
	Error             string `json:"error,omitempty"`
}

// Status reports the models, the last decisions and events.
func (r *Router) Status() Status {
	r.mu.Lock()
	st := Status{Schema: SchemaVersion, Waiting: r.waiting, Decisions: append([]DecisionRecord{}, r.decisions...), Events: append([]Event{}, r.events...)}
	if r.machine != nil {
		st.AvailableBytes = r.machine.Memory.EffectiveAvailableBytes
	}
	type probeAt struct {
		i    int
		pid  int
		path string
	}
	var probes []probeAt
	for _, e := range r.entries {
		ms := ModelStatus{Name: e.m.Name, Aliases: e.m.Aliases, Path: e.m.Request.ModelPath, State: e.state.String(),
			Active: e.active, Restarts: e.restarts, Error: e.lastErr}
		if !e.lastUsed.IsZero() {
			t := e.lastUsed
			ms.LastUsed = &t
		}
		if p := e.plan; p != nil {
			s := p.Settings
			ms.Settings, ms.LlamaArgs = &s, p.LlamaArgs
			cpu := p.Devices[0]
			ms.Planned = &Planned{AnonBytes: cpu.TotalBytes}
			if s.MMap {
				ms.Planned.PageCacheBytes = cpu.ResidentBytes
			}
			for _, d := range p.Devices[1:] {
				ms.Planned.GPUBytes = append(ms.Planned.GPUBytes, d.TotalBytes)
			}
		}
		if e.backend != nil && e.state == ready {
			t := e.loadedAt
			ms.LoadedAt, ms.PID, ms.URL = &t, e.backend.PID(), e.backend.URL()
			if ms.PID > 0 {
				probes = append(probes, probeAt{len(st.Models), ms.PID, e.m.Request.ModelPath})
			}
		}
		st.Models = append(st.Models, ms)
	}
	r.mu.Unlock()
	// /proc is read outside the lock.
	for _, p := range probes {
		m, err := r.opts.Measure(p.pid, p.path)
		if err != nil {
			m.Error = err.Error()
		}
		st.Models[p.i].Measured = &m
	}
	return st
}
