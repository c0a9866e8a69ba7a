// Package ollamatest builds Ollama model stores for tests, laid out as
// Ollama v0.17.4 writes them (manifests/HOST/NAMESPACE/MODEL/TAG, blobs/
// sha256-HEX).
package ollamatest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelfit/modelfit/ollama"
)

// Layer is one manifest layer to write: its media type and content.
type Layer struct {
	MediaType string
	Data      []byte
}

// Add writes the layers as blobs and a schema-2 manifest for name into the
// store at dir, and returns the manifest's path.
func Add(t testing.TB, dir, name string, layers ...Layer) string {
	t.Helper()
	p, err := Write(dir, name, layers...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Write is Add returning its error.
func Write(dir, name string, layers ...Layer) (string, error) {
	n, err := ollama.ParseName(name)
	if err != nil {
		return "", err
	}
	var werr error
	type desc struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
		Size      int    `json:"size"`
	}
	write := func(data []byte) string {
		sum := sha256.Sum256(data)
		digest := "sha256:" + hex.EncodeToString(sum[:])
		p := filepath.Join(dir, "blobs", "sha256-"+hex.EncodeToString(sum[:]))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			werr = err
		} else if err := os.WriteFile(p, data, 0o644); err != nil {
			werr = err
		}
		return digest
	}
	config := []byte(`{"model_format":"gguf","rootfs":{"type":"layers"}}`)
	m := struct {
		SchemaVersion int    `json:"schemaVersion"`
		MediaType     string `json:"mediaType"`
		Config        desc   `json:"config"`
		Layers        []desc `json:"layers"`
	}{SchemaVersion: 2, MediaType: ollama.ManifestMediaType,
		Config: desc{"application/vnd.docker.container.image.v1+json", write(config), len(config)}}
	for _, l := range layers {
		m.Layers = append(m.Layers, desc{l.MediaType, write(l.Data), len(l.Data)})
	}
	if werr != nil {
		return "", werr
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, "manifests", n.Host, n.Namespace, n.Model, n.Tag)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", err
	}
	return p, os.WriteFile(p, b, 0o644)
}

// Model returns the layers of a model: the GGUF file at path and, when
// params is not nil, a params layer holding it as JSON.
func Model(t testing.TB, path string, params map[string]any) []Layer {
	t.Helper()
	l, err := ModelLayers(path, params)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// ModelLayers is Model returning its error.
func ModelLayers(path string, params map[string]any) ([]Layer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := []Layer{{ollama.MediaTypeModel, data}}
	if params != nil {
		b, err := json.Marshal(params)
		if err != nil {
			return nil, err
		}
		out = append(out, Layer{ollama.MediaTypeParams, b})
	}
	return out, nil
}
