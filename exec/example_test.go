package exec_test

import (
	"context"
	"fmt"
	"log"

	"github.com/modelfit/modelfit/exec"
	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/testutil"
	"github.com/modelfit/modelfit/planner"
)

// Load a model with explicit settings (exec.Load takes a planner.Plan
// instead) and generate greedily.
func ExampleModel_Generate() {
	f, err := gguf.Open(testutil.Path("models", "synth-llama-gqa-Q4_K_M.gguf"))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	s := planner.Settings{NCtx: 256, NUbatch: 512, CacheTypeK: "f16", CacheTypeV: "f16", MMap: true, Threads: 2}
	m, err := exec.LoadSettings(context.Background(), s, f)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	var ids []int32
	for tok, err := range m.Generate(context.Background(), "Once upon a time", exec.GenerateOptions{MaxTokens: 4}) {
		if err != nil {
			log.Fatal(err)
		}
		ids = append(ids, tok.ID)
	}
	st := m.Stats()
	fmt.Println(st.PromptTokens, "prompt tokens, generated", ids)
	// Output: 5 prompt tokens, generated [133 467 232 92]
}
