package layouts_test

import (
	"fmt"

	"github.com/modelfit/modelfit/internal/layouts"
)

// A zoo layout as the converter and llama-quantize would write it: its
// tensors, their bytes, and the types Q4_K_M gives them.
func ExampleBuild() {
	spec, _ := layouts.ByID("llama-3.1-8b-q4_k_m")
	l, err := layouts.Build(spec)
	if err != nil {
		panic(err)
	}
	_, dataSize, err := l.Header()
	if err != nil {
		panic(err)
	}
	types := map[string]int{}
	for _, t := range l.Tensors {
		types[t.Type.String()]++
	}
	fmt.Println(len(l.Tensors), "tensors,", dataSize, "bytes of data")
	fmt.Println(types)
	// Output:
	// 292 tensors, 4912898304 bytes of data
	// map[f32:66 q4_K:193 q6_K:33]
}
