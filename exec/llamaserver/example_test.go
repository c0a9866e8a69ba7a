package llamaserver_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/modelfit/modelfit/exec/llamaserver"
	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/planner"
	"github.com/modelfit/modelfit/probe"
)

// Plan a model for this machine, serve it with llama-server, and complete a
// prompt. (Not run as a test: it needs a llama-server.)
func ExampleStart() {
	ctx := context.Background()
	f, err := gguf.Open("model.gguf")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	snap, err := probe.Probe(ctx, probe.Options{Files: []string{"model.gguf"}})
	if err != nil {
		log.Fatal(err)
	}
	plan, err := planner.Make(ctx, f, snap, planner.Request{ModelPath: "model.gguf"})
	if err != nil {
		log.Fatal(err)
	}
	bin, err := llamaserver.Locate("", os.Getenv("LLAMA_SERVER"))
	if err != nil {
		log.Fatal(err)
	}
	srv, err := llamaserver.Start(ctx, plan, llamaserver.Options{Binary: bin})
	if err != nil {
		log.Fatal(err) // errors.Is(err, llamaserver.ErrOOMKilled), ErrLoad, …
	}
	defer srv.Close()
	c, err := srv.Complete(ctx, llamaserver.CompletionRequest{Prompt: "Once upon a time", NPredict: 32, Grammar: llamaserver.ValidUTF8},
		func(text string) error { fmt.Print(text); return nil })
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("\n%.1f tok/s (OpenAI-compatible API at %s/v1)\n", c.Timings.PredictedPerSecond, srv.URL)
}
