package tokenizer_test

import (
	"fmt"
	"log"
	"strconv"
	"strings"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/testutil"
	"github.com/modelfit/modelfit/tokenizer"
)

func Example() {
	f, err := gguf.Open(testutil.Path("models", "synth-llama-gqa-Q4_0.gguf"))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		log.Fatal(err)
	}
	ids := tok.Encode("Once upon a time", true, false)
	fmt.Println(ids)
	var pieces []string
	for _, id := range ids {
		pieces = append(pieces, strconv.Quote(tok.Piece(id, true)))
	}
	fmt.Println(strings.Join(pieces, " "))
	fmt.Printf("%q\n", tok.Decode(ids, true, false))
	// Output:
	// [1 403 407 261 378]
	// "<s>" " Once" " upon" " a" " time"
	// " Once upon a time"
}
