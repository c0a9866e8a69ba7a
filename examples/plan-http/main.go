// Command plan-http embeds modelfit in an HTTP server: POST a model path or
// URL and the wanted context, get the plan for this machine as JSON. The
// machine is probed at most once per second however many requests arrive.
//
//	go run ./examples/plan-http -addr 127.0.0.1:8080 &
//	curl -s '127.0.0.1:8080/plan?model=testdata/models/synth-llama-gqa-Q4_K_M.gguf&ctx=2048'
package main

import (
	"errors"
	"flag"
	"log"
	"net/http"
	"time"

	"github.com/modelfit/modelfit/examples/plan-http/planhttp"
	"github.com/modelfit/modelfit/probe"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()
	h := &planhttp.Handler{Probe: &probe.Cache{Interval: time.Second}}
	srv := &http.Server{Addr: *addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	log.Printf("planning on http://%s/plan?model=PATH_OR_URL", *addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
