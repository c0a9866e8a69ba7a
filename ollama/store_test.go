package ollama_test

import (
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelfit/modelfit/gguf"
	"github.com/modelfit/modelfit/internal/ollamatest"
	"github.com/modelfit/modelfit/internal/testutil"
	"github.com/modelfit/modelfit/ollama"
)

func TestParseName(t *testing.T) {
	tests := []struct {
		in, want, short string
	}{
		{"llama3.1", "registry.ollama.ai/library/llama3.1:latest", "llama3.1:latest"},
		{"llama3.1:8b", "registry.ollama.ai/library/llama3.1:8b", "llama3.1:8b"},
		{"jmorgan/mixtral:8x7b-q4", "registry.ollama.ai/jmorgan/mixtral:8x7b-q4", "jmorgan/mixtral:8x7b-q4"},
		{"hf.co/unsloth/DeepSeek-V3-GGUF:Q2_K", "hf.co/unsloth/DeepSeek-V3-GGUF:Q2_K", "hf.co/unsloth/DeepSeek-V3-GGUF:Q2_K"},
		{"localhost:5000/me/m", "localhost:5000/me/m:latest", "localhost:5000/me/m:latest"},
		{"https://example.com/me/m:v1", "example.com/me/m:v1", "example.com/me/m:v1"},
	}
	for _, tt := range tests {
		n, err := ollama.ParseName(tt.in)
		if err != nil || n.String() != tt.want || n.Short() != tt.short {
			t.Errorf("ParseName(%q) = %q (%q), %v; want %q (%q)", tt.in, n, n.Short(), err, tt.want, tt.short)
		}
	}
	for _, bad := range []string{"", "model:", "a/b/c/d", "-x", "my.ns/model", "model:a/b", "model name", "../etc/passwd"} {
		if _, err := ollama.ParseName(bad); !errors.Is(err, ollama.ErrInvalidName) {
			t.Errorf("ParseName(%q): %v, want ErrInvalidName", bad, err)
		}
	}
}

func TestDefaultDir(t *testing.T) {
	env := map[string]string{}
	get := func(k string) string { return env[k] }
	if d := ollama.DefaultDir(get, "/home/u"); d != filepath.Join("/home/u", ".ollama", "models") {
		t.Errorf("default %s", d)
	}
	env["OLLAMA_MODELS"] = "/srv/models"
	if d := ollama.DefaultDir(get, "/home/u"); d != "/srv/models" {
		t.Errorf("OLLAMA_MODELS: %s", d)
	}
}

const synth = "synth-llama-gqa-Q4_K_M.gguf"

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	layers := ollamatest.Model(t, testutil.Path("models", synth), map[string]any{"num_ctx": 8192, "use_mmap": false, "stop": []string{"<|eot|>"}, "temperature": 0.2})
	ollamatest.Add(t, dir, "synth:q4", layers...)
	ollamatest.Add(t, dir, "me/synth", layers[:1]...)

	m, err := ollama.Resolve(dir, "synth:q4")
	if err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(m.Blob)
	if err != nil {
		t.Fatalf("the blob is not the GGUF: %v", err)
	}
	f.Close()
	if !strings.HasPrefix(filepath.Base(m.Blob), "sha256-") || m.Digest != "sha256:"+strings.TrimPrefix(filepath.Base(m.Blob), "sha256-") {
		t.Errorf("blob %s digest %s", m.Blob, m.Digest)
	}
	if n, ok := m.Params.Int("num_ctx"); !ok || n != 8192 {
		t.Errorf("num_ctx %d %v", n, ok)
	}
	if b, ok := m.Params.Bool("use_mmap"); !ok || b {
		t.Errorf("use_mmap %v %v", b, ok)
	}
	if _, ok := m.Params.Int("temperature"); ok {
		t.Error("0.2 read as an integer")
	}
	m, err = ollama.Resolve(dir, "registry.ollama.ai/me/synth:latest")
	if err != nil || m.Params != nil {
		t.Fatalf("%v, params %v", err, m)
	}
}

func TestResolveErrors(t *testing.T) {
	dir := t.TempDir()
	layers := ollamatest.Model(t, testutil.Path("models", synth), nil)
	ollamatest.Add(t, dir, "synth:q4", layers...)
	ollamatest.Add(t, dir, "synth:q8", layers...)

	_, err := ollama.Resolve(dir, "synth")
	var e *ollama.Error
	if !errors.Is(err, ollama.ErrNotFound) || !errors.As(err, &e) || !strings.Contains(err.Error(), "q4, q8") || !strings.Contains(e.Path, filepath.Join("library", "synth", "latest")) {
		t.Errorf("missing tag: %v", err)
	}
	if _, err := ollama.Resolve(dir, "llama3.1:8b"); !errors.Is(err, ollama.ErrNotFound) || !strings.Contains(err.Error(), "ollama pull llama3.1:8b") {
		t.Errorf("missing model: %v", err)
	}

	// A blob deleted under the manifest.
	m, err := ollama.Resolve(dir, "synth:q8")
	if err != nil {
		t.Fatal(err)
	}
	ollamatest.Add(t, dir, "other:x", ollamatest.Layer{MediaType: ollama.MediaTypeModel, Data: []byte("GGUF-not-really")})
	o, _ := ollama.Resolve(dir, "other:x")
	os.Remove(o.Blob)
	if _, err := ollama.Resolve(dir, "other:x"); !errors.Is(err, ollama.ErrBlobMissing) || !strings.Contains(err.Error(), o.Blob) {
		t.Errorf("missing blob: %v", err)
	}

	// Manifests of other schemas or without a model layer.
	write := func(name, body string) {
		n, _ := ollama.ParseName(name)
		p := filepath.Join(dir, "manifests", n.Host, n.Namespace, n.Model, n.Tag)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(body), 0o644)
	}
	digest := m.Digest
	for name, body := range map[string]string{
		"v1:x":      `{"schemaVersion":1,"name":"v1"}`,
		"oci:x":     `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","layers":[]}`,
		"nomodel:x": `{"schemaVersion":2,"layers":[{"mediaType":"application/vnd.ollama.image.template","digest":"` + digest + `"}]}`,
		"baddig:x":  `{"schemaVersion":2,"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"md5:1234"}]}`,
		"notjson:x": `schemaVersion: 2`,
	} {
		write(name, body)
		if _, err := ollama.Resolve(dir, name); !errors.Is(err, ollama.ErrManifest) {
			t.Errorf("%s: %v, want ErrManifest", name, err)
		}
	}
	if _, err := ollama.Resolve(dir, "bad name"); !errors.Is(err, ollama.ErrInvalidName) {
		t.Errorf("bad name: %v", err)
	}
}

func ExampleResolve() {
	// A store as Ollama lays it out: $OLLAMA_MODELS/manifests/… and blobs/.
	dir, err := os.MkdirTemp("", "ollama-store")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	layers, err := ollamatest.ModelLayers(testutil.Path("models", synth), map[string]any{"num_ctx": 8192})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := ollamatest.Write(dir, "synth:q4", layers...); err != nil {
		log.Fatal(err)
	}

	m, err := ollama.Resolve(dir, "synth:q4")
	if err != nil {
		log.Fatal(err)
	}
	n, _ := m.Params.Int("num_ctx")
	fmt.Println(m.Name.Short(), "is", m.Name)
	fmt.Println("blob under", filepath.Base(filepath.Dir(m.Blob)), "num_ctx", n)
	// Output:
	// synth:q4 is registry.ollama.ai/library/synth:q4
	// blob under blobs num_ctx 8192
}

// Any string parses to an error or to a name that parses back to itself.
func FuzzParseName(f *testing.F) {
	for _, s := range []string{"llama3.1:8b", "hf.co/u/m:Q4", "localhost:5000/a/b", "https://x/y/z:t", "a/b/c/d", ":", "/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ollama.ParseName(s)
		if err != nil {
			return
		}
		back, err := ollama.ParseName(n.String())
		if err != nil || back != n {
			t.Errorf("%q -> %q -> %q, %v", s, n, back, err)
		}
	})
}
