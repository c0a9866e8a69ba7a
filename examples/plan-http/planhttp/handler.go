// Package planhttp serves modelfit plans over HTTP; the plan-http example
// runs it. It is written to be exposed: models come only from configured
// directories and URL prefixes, every request is bounded in time, size and
// number, and errors never echo the bytes of a file.
package planhttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/planner"
	"github.com/modelfit/modelfit/probe"
)

// Defaults of a Handler's bounds.
const (
	DefaultTimeout       = 30 * time.Second
	DefaultMaxConcurrent = 4
	maxModelParam        = 2048 // bytes of ?model=
)

// Handler answers GET /plan?model=NAME_OR_URL[&ctx=N][&parallel=N] with the
// plan as JSON: 200 when it runs (the verdict says whether in memory or
// paging from disk), 422 with the plan and the reason when it does not fit;
// 400 for bad input, 403 for a model outside the allowed places, 404 for a
// model that is not there, 405 for a method other than GET or HEAD, 503 when
// MaxConcurrent requests are already planning, 504 when the request's time
// is up.
//
// NAME is a file name relative to one of ModelDirs (the first that has it),
// or an absolute path inside one; a name with "..", or a symbolic link that
// leaves its directory, is refused. A URL must start with one of
// URLPrefixes, and so must every redirect it leads to.
type Handler struct {
	Probe *probe.Cache // shared, refreshed at most once per its interval
	// Snapshot, when set, replaces probing (tests, or planning for another machine).
	Snapshot *probe.Snapshot
	// ModelDirs are the directories models may be read from; none: no
	// local model is served.
	ModelDirs []string
	// URLPrefixes are the URL prefixes models may be fetched from, such as
	// "https://huggingface.co/"; none: no URL is fetched.
	URLPrefixes []string
	// Timeout bounds each request: fetching a header, probing, planning.
	// 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxConcurrent bounds the requests served at once; 0 means
	// DefaultMaxConcurrent.
	MaxConcurrent int
	// Client fetches URLs; nil means gguf.NewRemoteClient() with redirects
	// checked against URLPrefixes.
	Client *http.Client

	once   sync.Once
	slots  chan struct{}
	client *http.Client
}

// requestError is an answer to the client: a status and a message that
// says what was wrong without quoting any file.
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func fail(status int, format string, args ...any) error {
	return &requestError{status, fmt.Sprintf(format, args...)}
}

func (h *Handler) init() {
	h.once.Do(func() {
		n := h.MaxConcurrent
		if n <= 0 {
			n = DefaultMaxConcurrent
		}
		h.slots = make(chan struct{}, n)
		h.client = h.Client
		if h.client == nil {
			h.client = gguf.NewRemoteClient()
			h.client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
				if len(via) >= 5 {
					return errors.New("too many redirects")
				}
				if !h.allowedURL(req.URL) {
					return fmt.Errorf("redirect to %s, outside the allowed URL prefixes", req.URL.Redacted())
				}
				return nil
			}
		}
	})
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.init()
	if r.URL.Path != "/plan" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "use GET /plan?model=NAME_OR_URL", http.StatusMethodNotAllowed)
		return
	}
	if r.ContentLength != 0 {
		http.Error(w, "a GET /plan request has no body", http.StatusRequestEntityTooLarge)
		return
	}
	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
	default:
		w.Header().Set("Retry-After", "1")
		http.Error(w, "busy: too many plans in progress", http.StatusServiceUnavailable)
		return
	}
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	p, err := h.plan(ctx, r.URL.Query())
	var nf *planner.NoFitError
	var re *requestError
	status := http.StatusOK
	switch {
	case errors.As(err, &nf):
		status = http.StatusUnprocessableEntity
	case errors.As(err, &re):
		http.Error(w, re.msg, re.status)
		return
	case ctx.Err() != nil:
		http.Error(w, fmt.Sprintf("the plan took over %v", timeout), http.StatusGatewayTimeout)
		return
	case err != nil:
		log.Printf("plan: %v", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if r.Method == http.MethodGet {
		json.NewEncoder(w).Encode(p)
	}
}

// plan reads the query, opens the model and plans it.
func (h *Handler) plan(ctx context.Context, q url.Values) (*planner.Plan, error) {
	model := q.Get("model")
	switch {
	case model == "":
		return nil, fail(http.StatusBadRequest, "missing ?model=NAME_OR_URL")
	case len(model) > maxModelParam:
		return nil, fail(http.StatusBadRequest, "model: longer than %d bytes", maxModelParam)
	}
	var req planner.Request
	req.ModelPath = model
	req.AllowShrinkContext, req.AllowQuantizedKV = true, true
	for _, p := range []struct {
		key   string
		dst   *int
		limit int
	}{{"ctx", &req.Settings.NCtx, planner.MaxContext}, {"parallel", &req.Settings.NParallel, planner.MaxParallel}} {
		if v := q.Get(p.key); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 || n > p.limit {
				return nil, fail(http.StatusBadRequest, "%s: want a whole number from 1 to %d", p.key, p.limit)
			}
			*p.dst = n
		}
	}
	req.Pinned.NCtx = req.Settings.NCtx > 0
	req.Pinned.NParallel = req.Settings.NParallel > 0
	f, err := h.open(ctx, model)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	snap := h.Snapshot
	if snap == nil {
		if snap, err = h.Probe.Get(ctx); err != nil {
			return nil, err
		}
	}
	p, err := planner.Make(ctx, f, snap, req)
	switch {
	case errors.Is(err, gguf.ErrShape):
		return nil, fail(http.StatusUnprocessableEntity, "the model's tensor shapes contradict its hyperparameters")
	case errors.Is(err, planner.ErrInvalidRequest):
		return nil, fail(http.StatusBadRequest, "the settings asked for are out of range")
	case p == nil && err != nil && ctx.Err() == nil:
		log.Printf("plan %s: %v", model, err)
		return nil, fail(http.StatusUnprocessableEntity, "the model cannot be planned")
	}
	return p, err
}

// open opens a local model inside ModelDirs or fetches a URL's header
// within URLPrefixes; its errors say what went wrong in words of their own.
func (h *Handler) open(ctx context.Context, model string) (*gguf.File, error) {
	if strings.HasPrefix(model, "http://") || strings.HasPrefix(model, "https://") {
		u, err := url.Parse(model)
		if err != nil || !h.allowedURL(u) {
			return nil, fail(http.StatusForbidden, "model: URL not under an allowed prefix")
		}
		f, err := gguf.ParseURLOptions(ctx, u.String(), gguf.RemoteOptions{Client: h.client, Timeout: -1})
		if err != nil {
			return nil, h.readError(ctx, model, err)
		}
		return f, nil
	}
	if strings.Contains(model, "://") {
		return nil, fail(http.StatusForbidden, "model: only http and https URLs are fetched")
	}
	dir, name, err := h.locate(model)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		log.Printf("model directory %s: %v", dir, err)
		return nil, fail(http.StatusInternalServerError, "model directory unavailable")
	}
	defer root.Close()
	f, err := gguf.OpenIn(root, name)
	if err != nil {
		return nil, h.readError(ctx, model, err)
	}
	return f, nil
}

// locate finds which model directory a name is in: a relative name in the
// first directory that has it, an absolute one in the directory it lies
// under. The name is returned relative to that directory.
func (h *Handler) locate(model string) (dir, name string, err error) {
	if len(h.ModelDirs) == 0 {
		return "", "", fail(http.StatusForbidden, "model: no model directory is configured")
	}
	for _, part := range strings.FieldsFunc(filepath.ToSlash(model), func(r rune) bool { return r == '/' }) {
		if part == ".." {
			return "", "", fail(http.StatusForbidden, "model: .. is not allowed in a name")
		}
	}
	if strings.ContainsRune(model, 0) {
		return "", "", fail(http.StatusBadRequest, "model: bad name")
	}
	if filepath.IsAbs(model) {
		clean := filepath.Clean(model)
		for _, d := range h.ModelDirs {
			d = filepath.Clean(d)
			if rel, err := filepath.Rel(d, clean); err == nil && rel != "." && filepath.IsLocal(rel) {
				return d, rel, nil
			}
		}
		return "", "", fail(http.StatusForbidden, "model: not in a model directory")
	}
	name = path.Clean(filepath.ToSlash(model))
	if !filepath.IsLocal(name) {
		return "", "", fail(http.StatusForbidden, "model: not a name inside a model directory")
	}
	for _, d := range h.ModelDirs {
		if _, err := os.Lstat(filepath.Join(d, name)); err == nil {
			return d, name, nil
		}
	}
	return "", "", fail(http.StatusNotFound, "model: no such model")
}

// allowedURL reports whether u lies under one of the URL prefixes: same
// scheme and host (no user info), and a path under the prefix's.
func (h *Handler) allowedURL(u *url.URL) bool {
	if u.User != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	for _, p := range h.URLPrefixes {
		pu, err := url.Parse(p)
		if err != nil || pu.Scheme != u.Scheme || !strings.EqualFold(pu.Host, u.Host) {
			continue
		}
		prefix := pu.EscapedPath()
		if prefix == "" || strings.HasSuffix(prefix, "/") {
			if strings.HasPrefix(u.EscapedPath(), prefix) || prefix == "" {
				return !strings.Contains(u.Path, "/../")
			}
		} else if u.EscapedPath() == prefix || strings.HasPrefix(u.EscapedPath(), prefix+"/") {
			return !strings.Contains(u.Path, "/../")
		}
	}
	return false
}

// readError turns a failure to read a model into an answer that names the
// kind of failure and never the file's bytes (a non-GGUF file's first bytes
// would otherwise reach the client); the details go to the log.
func (h *Handler) readError(ctx context.Context, model string, err error) error {
	log.Printf("model %s: %v", model, err)
	var fe *gguf.FormatError
	switch {
	case ctx.Err() != nil:
		return err
	case errors.Is(err, fs.ErrNotExist):
		return fail(http.StatusNotFound, "model: no such model")
	case errors.Is(err, fs.ErrPermission):
		return fail(http.StatusForbidden, "model: not readable")
	case errors.Is(err, gguf.ErrBadMagic):
		return fail(http.StatusUnprocessableEntity, "model: not a GGUF file")
	case errors.As(err, &fe):
		return fail(http.StatusUnprocessableEntity, "model: malformed GGUF file (at byte offset %d)", fe.Off)
	case strings.Contains(err.Error(), "path escapes from parent"):
		return fail(http.StatusForbidden, "model: a link leads out of the model directory")
	case strings.Contains(err.Error(), "not a regular file"):
		return fail(http.StatusBadRequest, "model: not a regular file")
	}
	var ue *url.Error
	if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "gguf: GET ") {
		return fail(http.StatusBadGateway, "model: the URL could not be read (see the server's log)")
	}
	return fail(http.StatusUnprocessableEntity, "model: cannot be read")
}
