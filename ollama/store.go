package ollama

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Media types of the manifest layers Ollama v0.17.4 reads (server/images.go
// GetModel).
const (
	MediaTypeModel     = "application/vnd.ollama.image.model"
	MediaTypeParams    = "application/vnd.ollama.image.params"
	MediaTypeProjector = "application/vnd.ollama.image.projector"
	MediaTypeAdapter   = "application/vnd.ollama.image.adapter"
	// ManifestMediaType is the manifest schema Ollama writes
	// (manifest.WriteManifest): schemaVersion 2 with this media type.
	ManifestMediaType = "application/vnd.docker.distribution.manifest.v2+json"
)

// Errors to branch on; the *Error that wraps them says which model and file.
var (
	// ErrNotFound: no manifest for the name in the store.
	ErrNotFound = errors.New("model not found")
	// ErrBlobMissing: the manifest names a blob that is not in blobs/.
	ErrBlobMissing = errors.New("blob missing")
	// ErrManifest: the manifest is not one Ollama v0.17.4 writes (another
	// schema, no model layer, a malformed digest or JSON).
	ErrManifest = errors.New("unsupported manifest")
)

// Error explains a failed resolution.
type Error struct {
	Name   string // the name as given
	Path   string // the file concerned (manifest or blob)
	Detail string // what was expected
	Err    error  // ErrNotFound, ErrBlobMissing, ErrManifest or an I/O error
}

func (e *Error) Error() string {
	msg := "ollama: " + e.Name + ": " + e.Err.Error()
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Model is a model in the store.
type Model struct {
	Name     Name
	Dir      string // the models directory
	Manifest string // path of the manifest
	// Blob is the GGUF file: the layer of media type MediaTypeModel
	// (blobs/sha256-<hex>); Digest and Size are the layer's.
	Blob   string
	Digest string
	Size   int64
	// Projectors and Adapters are further GGUF blobs (vision projector,
	// LoRA adapters) the runner loads with the model.
	Projectors, Adapters []string
	// Params are the parameters stored with the model (its params layer,
	// what `ollama show --parameters` prints); nil without one.
	Params Params
}

// Params are a model's stored parameters (PARAMETER lines of the Modelfile
// it was created from), keyed by Ollama's option names. Values are as
// stored: numbers (float64), booleans, strings or lists.
type Params map[string]any

// Int returns an integer parameter (num_ctx, num_gpu, num_batch,
// num_thread); ok is false when absent or not an integer.
func (p Params) Int(key string) (v int, ok bool) {
	switch x := p[key].(type) {
	case float64:
		if x == float64(int(x)) {
			return int(x), true
		}
	case string:
		n, err := strconv.Atoi(x)
		return n, err == nil
	}
	return 0, false
}

// Bool returns a boolean parameter (use_mmap); ok is false when absent or
// not a boolean.
func (p Params) Bool(key string) (v bool, ok bool) {
	switch x := p[key].(type) {
	case bool:
		return x, true
	case string:
		b, err := strconv.ParseBool(x)
		return b, err == nil
	}
	return false, false
}

// DefaultDir returns the models directory Ollama v0.17.4 uses
// (envconfig.Models): $OLLAMA_MODELS, else ~/.ollama/models on every
// platform. getenv reads the environment (os.Getenv); home is the user's
// home directory.
func DefaultDir(getenv func(string) string, home string) string {
	if d := strings.Trim(strings.TrimSpace(getenv("OLLAMA_MODELS")), `"'`); d != "" {
		return d
	}
	return filepath.Join(home, ".ollama", "models")
}

// SystemDir is where the Linux install script's service keeps models (the
// ollama user's home is /usr/share/ollama): a server started by systemd
// uses it, not the caller's ~/.ollama.
const SystemDir = "/usr/share/ollama/.ollama/models"

var digestRE = regexp.MustCompile(`^sha256[:-][0-9a-fA-F]{64}$`)

// blobPath mirrors manifest.BlobsPath: only sha256 digests, ':' spelled '-'.
func blobPath(dir, digest string) (string, bool) {
	if !digestRE.MatchString(digest) {
		return "", false
	}
	return filepath.Join(dir, "blobs", strings.Replace(digest, ":", "-", 1)), true
}

type layer struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

type manifest struct {
	SchemaVersion int     `json:"schemaVersion"`
	MediaType     string  `json:"mediaType"`
	Config        layer   `json:"config"`
	Layers        []layer `json:"layers"`
}

// maxManifest bounds what is read of a manifest or params layer: Ollama's
// are a few KiB.
const maxManifest = 1 << 20

// Resolve finds the model called name in the store at dir: the manifest of
// its fully qualified name, the blob of its model layer (the last one, as
// GetModel keeps it) and its stored parameters.
func Resolve(dir, name string) (*Model, error) {
	n, err := ParseName(name)
	if err != nil {
		return nil, err
	}
	fail := func(path, detail string, err error) error {
		return &Error{Name: name, Path: path, Detail: detail, Err: err}
	}
	mpath := n.manifestPath(dir)
	data, err := readSmall(mpath)
	if errors.Is(err, fs.ErrNotExist) {
		detail := fmt.Sprintf("no manifest %s", mpath)
		if tags := tagsOf(dir, n); len(tags) > 0 {
			detail += fmt.Sprintf(" (tags of %s in the store: %s)", n.Model, strings.Join(tags, ", "))
		} else {
			detail += fmt.Sprintf(` (fetch it with "ollama pull %s", or set OLLAMA_MODELS to the store it is in)`, n.Short())
		}
		return nil, fail(mpath, detail, ErrNotFound)
	}
	if err != nil {
		return nil, fail(mpath, "", err)
	}
	var mf manifest
	if err := json.Unmarshal(data, &mf); err != nil {
		return nil, fail(mpath, fmt.Sprintf("manifest %s is not JSON (%v)", mpath, err), ErrManifest)
	}
	if mf.SchemaVersion != 2 || mf.MediaType != "" && mf.MediaType != ManifestMediaType {
		return nil, fail(mpath, fmt.Sprintf("manifest %s has schemaVersion %d, mediaType %q; want 2, %s", mpath, mf.SchemaVersion, mf.MediaType, ManifestMediaType), ErrManifest)
	}
	m := &Model{Name: n, Dir: dir, Manifest: mpath}
	var params string
	for i, l := range mf.Layers {
		switch l.MediaType {
		case MediaTypeModel, MediaTypeParams, MediaTypeProjector, MediaTypeAdapter:
		default:
			continue
		}
		p, ok := blobPath(dir, l.Digest)
		if !ok {
			return nil, fail(mpath, fmt.Sprintf("layer %d (%s): digest %q is not sha256:<64 hex digits>", i, l.MediaType, l.Digest), ErrManifest)
		}
		switch l.MediaType {
		case MediaTypeModel:
			m.Blob, m.Digest, m.Size = p, l.Digest, l.Size
		case MediaTypeParams:
			params = p
		case MediaTypeProjector:
			m.Projectors = append(m.Projectors, p)
		case MediaTypeAdapter:
			m.Adapters = append(m.Adapters, p)
		}
	}
	if m.Blob == "" {
		return nil, fail(mpath, fmt.Sprintf("manifest %s has no layer of media type %s (not a model: an embedding-only or cloud entry?)", mpath, MediaTypeModel), ErrManifest)
	}
	for _, p := range append([]string{m.Blob}, append(m.Projectors, m.Adapters...)...) {
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			return nil, fail(p, fmt.Sprintf(`%s is named by the manifest but absent (an interrupted pull or a pruned store: "ollama pull %s" fetches it again)`, p, n.Short()), ErrBlobMissing)
		} else if err != nil {
			return nil, fail(p, "", err)
		}
	}
	if params != "" {
		data, err := readSmall(params)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fail(params, fmt.Sprintf("params layer %s is named by the manifest but absent", params), ErrBlobMissing)
		}
		if err != nil {
			return nil, fail(params, "", err)
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		if err := dec.Decode(&m.Params); err != nil {
			return nil, fail(params, fmt.Sprintf("params layer %s is not a JSON object (%v)", params, err), ErrManifest)
		}
	}
	return m, nil
}

func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(io.LimitReader(f, maxManifest+1)); err != nil {
		return nil, err
	}
	if b.Len() > maxManifest {
		return nil, fmt.Errorf("%s: larger than %d bytes: %w", path, maxManifest, ErrManifest)
	}
	return b.Bytes(), nil
}

// tagsOf lists the tags stored for n's model (for the not-found message).
func tagsOf(dir string, n Name) []string {
	ents, err := os.ReadDir(filepath.Join(dir, "manifests", n.Host, n.Namespace, n.Model))
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}
