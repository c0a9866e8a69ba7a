// Command residency-http embeds the residency planner in a server that
// keeps several models loaded: GET /load?model=PATH answers whether the
// model loads next to the ones held, which to evict first, or why it
// cannot, with the why-trail, and records the outcome; a model it holds
// already is an error. (It starts no runtime: plan serve does, with the
// same decisions.)
//
//	go run ./examples/residency-http &
//	curl -s '127.0.0.1:8081/load?model=testdata/models/synth-llama-gqa-Q4_K_M.gguf'
package main

import (
	"context"
	"encoding/json"
	"log"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/planner"
	"github.com/modelfit/modelfit/planner/residency"
	"github.com/modelfit/modelfit/probe"
)

// What the server holds: the models loaded and the planner that memoises
// their plans.
var (
	mu     sync.Mutex
	pl     residency.Planner
	loaded []residency.Model
)

func main() {
	machine, err := probe.Probe(context.Background(), probe.Options{}) // before any model is loaded
	if err != nil {
		log.Fatal(err)
	}
	http.HandleFunc("GET /load", func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Query().Get("model")
		f, err := gguf.Open(path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		defer f.Close()
		mu.Lock()
		defer mu.Unlock()
		d, err := pl.Decide(r.Context(), residency.Input{Machine: machine, Loaded: loaded, Now: time.Now(),
			Request: residency.Request{ID: path, GGUF: f, Plan: planner.Request{ModelPath: path}}})
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnprocessableEntity)
			return
		}
		if d.Action == residency.Load || d.Action == residency.Evict {
			loaded = append(slices.DeleteFunc(loaded, func(m residency.Model) bool {
				return slices.ContainsFunc(d.Evict, func(e residency.Eviction) bool { return e.ID == m.ID })
			}), residency.Model{ID: path, Plan: d.Plan, LastUsed: time.Now(), KeepAlive: 5 * time.Minute})
		}
		json.NewEncoder(w).Encode(d)
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:8081", nil))
}
