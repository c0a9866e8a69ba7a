// Command plan-http embeds modelfit in an HTTP server: GET /plan with a
// model name (from the directories given with -models) or URL (under a prefix
// given with -allow-url) and the wanted context, get the plan for this
// machine as JSON. The machine is probed at most once per second however
// many requests arrive; each request is bounded in time, and so is the
// number served at once.
//
//	go run ./examples/plan-http -models testdata/models -allow-url https://huggingface.co/ &
//	curl -s '127.0.0.1:8080/plan?model=synth-llama-gqa-Q4_K_M.gguf&ctx=2048'
package main

import (
	"errors"
	"flag"
	"log"
	"net/http"
	"strings"
	"time"

	"github.com/modelfit/modelfit/examples/plan-http/planhttp"
	"github.com/modelfit/modelfit/probe"
)

// list collects a repeatable flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	var dirs, prefixes list
	flag.Var(&dirs, "models", "a directory models may be read from (repeatable)")
	flag.Var(&prefixes, "allow-url", "a URL prefix models may be fetched from, e.g. https://huggingface.co/ (repeatable)")
	timeout := flag.Duration("timeout", planhttp.DefaultTimeout, "time allowed to each request")
	concurrent := flag.Int("max-concurrent", planhttp.DefaultMaxConcurrent, "requests served at once; more get 503")
	flag.Parse()
	if len(dirs) == 0 && len(prefixes) == 0 {
		log.Fatal("nothing to serve: give -models DIR and/or -allow-url PREFIX")
	}
	h := &planhttp.Handler{Probe: &probe.Cache{Interval: time.Second}, ModelDirs: dirs, URLPrefixes: prefixes,
		Timeout: *timeout, MaxConcurrent: *concurrent}
	srv := &http.Server{Addr: *addr, Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: *timeout + 10*time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 16 << 10}
	log.Printf("planning on http://%s/plan?model=NAME_OR_URL (models from %v, URLs under %v)", *addr, dirs, prefixes)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
