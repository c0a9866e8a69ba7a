package planhttp

import (
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelfit/modelfit/internal/testutil"
	"github.com/modelfit/modelfit/probe"
)

func TestMain(m *testing.M) {
	log.SetOutput(io.Discard) // the handler logs the details of refusals
	os.Exit(m.Run())
}

var snap = probe.Describe(probe.Description{RAMBytes: 64 << 30, GPUs: []probe.GPU{{Name: "H100", TotalBytes: 80 << 30}}})

// get asks srv for a plan and returns the status, the body and the plan.
func get(t *testing.T, srv *httptest.Server, query string) (int, string, map[string]any) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + "/plan?" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var doc map[string]any
	json.Unmarshal(b, &doc)
	return resp.StatusCode, string(b), doc
}

func model(name string) string { return "model=" + url.QueryEscape(name) }

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(&Handler{Snapshot: snap, ModelDirs: []string{testutil.Path("zoo"), testutil.Path("models")}})
	defer srv.Close()
	// Concurrent requests, as a server gets them.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			code, body, doc := get(t, srv, model("mixtral-8x7b-Q4_K_M.header.gguf")+"&ctx=8192")
			if code != http.StatusOK || doc["fits"] != true || doc["verdict"] != "fits" {
				t.Errorf("mixtral: %d %s", code, body)
			}
		})
	}
	wg.Wait()
	if code, body, _ := get(t, srv, model(testutil.Path("models", "synth-llama-gqa-Q8_0.gguf"))); code != http.StatusOK {
		t.Errorf("absolute path inside a model directory: %d %s", code, body)
	}
	if code, _, _ := get(t, srv, model("synth-llama-gqa-Q8_0.gguf")+"&ctx=x"); code != http.StatusBadRequest {
		t.Errorf("bad ctx: %d", code)
	}
	if code, _, _ := get(t, srv, model("nope.gguf")); code != http.StatusNotFound {
		t.Errorf("missing model: %d", code)
	}
}

// TestRefusals: each way out of the configured places, and each bound.
func TestRefusals(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.gguf")
	os.WriteFile(secret, []byte("root:$6$hash:19000:0:99999:7:::\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "notes.gguf"), []byte("SECRET-NOTES the first bytes of a file that is no model\n"), 0o644)
	if err := os.Symlink(secret, filepath.Join(dir, "link.gguf")); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	data, _ := os.ReadFile(testutil.Path("models", "synth-llama-gqa-Q8_0.gguf"))
	os.WriteFile(filepath.Join(dir, "sub", "ok.gguf"), data, 0o644)

	// A model server: /models/ok.gguf is allowed, /private/ is not, and
	// /models/redirect sends the client to /private/.
	models := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/models/ok.gguf", "/private/ok.gguf":
			http.ServeContent(w, r, "ok.gguf", time.Time{}, strings.NewReader(string(data)))
		case "/models/redirect.gguf":
			http.Redirect(w, r, "/private/ok.gguf", http.StatusFound)
		case "/models/hang.gguf":
			<-r.Context().Done()
		default:
			http.NotFound(w, r)
		}
	}))
	defer models.Close()

	h := &Handler{Snapshot: snap, ModelDirs: []string{dir}, URLPrefixes: []string{models.URL + "/models/"}, Timeout: 20 * time.Second}
	srv := httptest.NewServer(h)
	defer srv.Close()
	// The same with a short timeout, for the server that never answers.
	hs := &Handler{Snapshot: snap, URLPrefixes: []string{models.URL + "/models/"}, Timeout: 300 * time.Millisecond}
	short := httptest.NewServer(hs)
	defer short.Close()
	u, _ := url.Parse(models.URL)
	tests := []struct {
		name  string
		query string
		code  int
	}{
		{"a model in the directory", model("sub/ok.gguf"), http.StatusOK},
		{"a file outside", model("/etc/passwd"), http.StatusForbidden},
		{"a secret outside", model(secret), http.StatusForbidden},
		{"dot-dot", model("sub/../../" + filepath.Base(outside) + "/secret.gguf"), http.StatusForbidden},
		{"dot-dot that stays inside", model("sub/../sub/ok.gguf"), http.StatusForbidden},
		{"a symlink out of the directory", model("link.gguf"), http.StatusForbidden},
		{"a file that is not a model", model("notes.gguf"), http.StatusUnprocessableEntity},
		{"a directory", model("sub"), http.StatusBadRequest},
		{"an allowed URL", model(models.URL + "/models/ok.gguf"), http.StatusOK},
		{"a URL outside the prefixes", model(models.URL + "/private/ok.gguf"), http.StatusForbidden},
		{"a URL escaping the prefix", model(models.URL + "/models/../private/ok.gguf"), http.StatusForbidden},
		{"user info for another host", model("http://" + u.Host + "@evil.example/models/ok.gguf"), http.StatusForbidden},
		{"another scheme", model("file:///etc/passwd"), http.StatusForbidden},
		{"a redirect out of the prefixes", model(models.URL + "/models/redirect.gguf"), http.StatusBadGateway},
		{"a URL that never answers", model(models.URL + "/models/hang.gguf"), http.StatusGatewayTimeout},
		{"a huge name", model(strings.Repeat("a", 5000)), http.StatusBadRequest},
		{"no model", "ctx=1", http.StatusBadRequest},
		{"a context out of range", model("sub/ok.gguf") + "&ctx=99999999999", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			s := srv
			if strings.Contains(tt.query, "hang") {
				s = short
			}
			code, body, _ := get(t, s, tt.query)
			if code != tt.code {
				t.Errorf("%d, want %d: %s", code, tt.code, body)
			}
			for _, leak := range []string{"root", "SECRET", "$6$", "first bytes"} {
				if strings.Contains(body, leak) {
					t.Errorf("the answer echoes the file: %s", body)
				}
			}
			// The request's timeout bounds the server that never answers
			// (generously: the race detector on a busy machine is slow).
			if d := time.Since(start); s == short && d > 10*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}

	t.Run("POST", func(t *testing.T) {
		resp, err := srv.Client().Post(srv.URL+"/plan?"+model("sub/ok.gguf"), "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("POST: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
		}
	})
	t.Run("GET with a body", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/plan?"+model("sub/ok.gguf"), strings.NewReader(strings.Repeat("x", 1<<20)))
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("GET with a body: %d", resp.StatusCode)
		}
	})
}

// TestConcurrencyLimit: past MaxConcurrent requests in progress, the next
// is turned away at once with 503.
func TestConcurrencyLimit(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	models := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		http.NotFound(w, r)
	}))
	defer models.Close()
	srv := httptest.NewServer(&Handler{Snapshot: snap, URLPrefixes: []string{models.URL + "/"}, MaxConcurrent: 1, Timeout: 10 * time.Second})
	defer srv.Close()
	done := make(chan int)
	go func() {
		code, _, _ := get(t, srv, model(models.URL+"/slow.gguf"))
		done <- code
	}()
	<-started
	code, _, _ := get(t, srv, model(models.URL+"/other.gguf"))
	if code != http.StatusServiceUnavailable {
		t.Errorf("second request: %d, want 503", code)
	}
	close(release)
	if code := <-done; code != http.StatusBadGateway {
		t.Errorf("first request: %d, want 502 (the model server said 404)", code)
	}
}

// TestNothingConfigured: without directories or prefixes nothing is served.
func TestNothingConfigured(t *testing.T) {
	srv := httptest.NewServer(&Handler{Snapshot: snap})
	defer srv.Close()
	for _, m := range []string{testutil.Path("models", "synth-llama-gqa-Q8_0.gguf"), "https://huggingface.co/x.gguf"} {
		if code, body, _ := get(t, srv, model(m)); code != http.StatusForbidden {
			t.Errorf("%s: %d %s", m, code, body)
		}
	}
}
