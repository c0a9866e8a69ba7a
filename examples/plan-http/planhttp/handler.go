// Package planhttp serves modelfit plans over HTTP; the plan-http example
// runs it.
package planhttp

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/planner"
	"github.com/modelfit/modelfit/probe"
)

// Handler answers GET /plan?model=PATH_OR_URL[&ctx=N][&parallel=N] with the
// plan as JSON: 200 when it fits, 422 with the plan and the reason when it
// does not, 400 for bad input.
type Handler struct {
	Probe *probe.Cache // shared, refreshed at most once per its interval
	// Snapshot, when set, replaces probing (tests, or planning for another machine).
	Snapshot *probe.Snapshot
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/plan" {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	model := q.Get("model")
	if model == "" {
		http.Error(w, "missing ?model=PATH_OR_URL", http.StatusBadRequest)
		return
	}
	var req planner.Request
	req.ModelPath = model
	req.AllowShrinkContext, req.AllowQuantizedKV = true, true
	for key, dst := range map[string]*int{"ctx": &req.Settings.NCtx, "parallel": &req.Settings.NParallel} {
		if v := q.Get(key); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				http.Error(w, key+" must be a positive integer", http.StatusBadRequest)
				return
			}
			*dst = n
		}
	}
	req.Pinned.NCtx = req.Settings.NCtx > 0
	var f *gguf.File
	var err error
	if strings.HasPrefix(model, "http://") || strings.HasPrefix(model, "https://") {
		f, err = gguf.ParseURL(r.Context(), model, nil)
	} else {
		f, err = gguf.Open(model)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	defer f.Close()
	snap := h.Snapshot
	if snap == nil {
		if snap, err = h.Probe.Get(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	p, err := planner.Make(r.Context(), f, snap, req)
	var nf *planner.NoFitError
	status := http.StatusOK
	switch {
	case errors.As(err, &nf):
		status = http.StatusUnprocessableEntity
	case err != nil:
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(p)
}
