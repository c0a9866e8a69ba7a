package planhttp

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/modelfit/modelfit/internal/testutil"
	"github.com/modelfit/modelfit/probe"
)

func TestHandler(t *testing.T) {
	snap := probe.Describe(probe.Description{RAMBytes: 64 << 30, GPUs: []probe.GPU{{Name: "H100", TotalBytes: 80 << 30}}})
	srv := httptest.NewServer(&Handler{Snapshot: snap})
	defer srv.Close()
	get := func(model, ctx string) (int, map[string]any) {
		resp, err := srv.Client().Get(srv.URL + "/plan?model=" + url.QueryEscape(model) + "&ctx=" + ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var doc map[string]any
		json.Unmarshal(b, &doc)
		return resp.StatusCode, doc
	}
	// Concurrent requests, as a server gets them.
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, doc := get(testutil.Path("zoo", "mixtral-8x7b-Q4_K_M.header.gguf"), "8192")
			if code != http.StatusOK || doc["fits"] != true {
				t.Errorf("mixtral: %d %v", code, doc["fits"])
			}
		}()
	}
	wg.Wait()
	if code, _ := get(testutil.Path("nope.gguf"), "1"); code != http.StatusBadRequest {
		t.Errorf("missing model: %d", code)
	}
	if code, _ := get(testutil.Path("models", "synth-llama-gqa-Q8_0.gguf"), "x"); code != http.StatusBadRequest {
		t.Errorf("bad ctx: %d", code)
	}
}
