// Command serve-many embeds exec/router: the .gguf files named on the
// command line behind one OpenAI-compatible endpoint, routed by the
// request's "model" (the file name without .gguf); each model's llama-server
// ($LLAMA_SERVER or on PATH) starts on its first request with the residency
// planner's plan next to the models loaded, which evicts the least recently
// used when there is no room. Ctrl-C stops every server.
//
//	go run ./examples/serve-many qwen2.5-0.5b.gguf llama-3.2-1b.gguf &
//	curl -s 127.0.0.1:8080/v1/completions -d '{"model":"llama-3.2-1b","prompt":"Hi","max_tokens":8}'
//	curl -s 127.0.0.1:8080/status
package main

import (
	"context"
	"log"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/modelfit/modelfit/exec/llamaserver"
	"github.com/modelfit/modelfit/exec/router"
	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/planner"
	"github.com/modelfit/modelfit/probe"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	bin, err := llamaserver.Locate("", os.Getenv("LLAMA_SERVER"))
	if err != nil {
		log.Fatal(err)
	}
	var models []router.Model
	for _, path := range os.Args[1:] {
		f, err := gguf.Open(path)
		if err != nil {
			log.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(path), ".gguf")
		models = append(models, router.Model{Name: name, File: f, Request: planner.Request{ModelPath: path}})
	}
	r, err := router.New(ctx, router.Options{Models: models, Start: router.LlamaServer(llamaserver.Options{Binary: bin}),
		Machine: func(ctx context.Context) (*probe.Snapshot, error) { return probe.Probe(ctx, probe.Options{}) }, Log: os.Stderr})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: r.Handler()}
	go func() { <-ctx.Done(); srv.Close() }()
	log.Print(srv.ListenAndServe())
}
