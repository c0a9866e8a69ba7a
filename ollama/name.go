// Package ollama finds models in Ollama's local store by name, as Ollama
// v0.17.4 lays the store out: a model name resolves to its GGUF blob and to
// the parameters stored with it.
package ollama

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Ollama's defaults for the parts a name leaves out (types/model/name.go).
const (
	DefaultHost      = "registry.ollama.ai"
	DefaultNamespace = "library"
	DefaultTag       = "latest"
)

// ErrInvalidName is returned for a string that is not an Ollama model name.
var ErrInvalidName = errors.New("not a valid Ollama model name")

// Name is a fully qualified model name: [host/][namespace/]model[:tag] with
// Ollama's defaults filled in.
type Name struct {
	Host, Namespace, Model, Tag string
}

// ParseName parses s as Ollama does (types/model ParseName: the tag after
// the last ':' that follows the last '/', then model, namespace and host
// from the right; an optional scheme:// is dropped) and fills the parts left
// out with DefaultHost, DefaultNamespace and DefaultTag. Every part must be
// valid as Ollama checks it (isValidPart): letters, digits, '_', '-' and '.'
// (not in a namespace), starting with a letter, digit or '_'; a host may
// hold a ':' port.
func ParseName(s string) (Name, error) {
	var n Name
	rest := s
	if strings.LastIndex(rest, ":") > strings.LastIndex(rest, "/") {
		i := strings.LastIndex(rest, ":")
		rest, n.Tag = rest[:i], rest[i+1:]
		if n.Tag == "" {
			return Name{}, fmt.Errorf("ollama: %q: empty tag: %w", s, ErrInvalidName)
		}
	}
	parts := strings.Split(rest, "/")
	if len(parts) > 3 {
		// Only a scheme (https://host/ns/model) may add more slashes.
		if scheme, after, ok := strings.Cut(rest, "://"); ok && scheme != "" {
			parts = strings.Split(after, "/")
		}
	}
	switch len(parts) {
	case 1:
		n.Model = parts[0]
	case 2:
		n.Namespace, n.Model = parts[0], parts[1]
	case 3:
		n.Host, n.Namespace, n.Model = parts[0], parts[1], parts[2]
	default:
		return Name{}, fmt.Errorf("ollama: %q: more than host/namespace/model: %w", s, ErrInvalidName)
	}
	if n.Host == "" {
		n.Host = DefaultHost
	}
	if n.Namespace == "" {
		n.Namespace = DefaultNamespace
	}
	if n.Tag == "" {
		n.Tag = DefaultTag
	}
	for _, p := range []struct {
		kind, v string
	}{{"host", n.Host}, {"namespace", n.Namespace}, {"model", n.Model}, {"tag", n.Tag}} {
		if !validPart(p.kind, p.v) {
			return Name{}, fmt.Errorf("ollama: %q: invalid %s %q: %w", s, p.kind, p.v, ErrInvalidName)
		}
	}
	return n, nil
}

// validPart mirrors types/model isValidPart and isValidLen.
func validPart(kind, s string) bool {
	maxLen := 80
	if kind == "host" {
		maxLen = 350
	}
	if len(s) < 1 || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		word := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_'
		switch {
		case i == 0 && !word:
			return false
		case word, c == '-':
		case c == '.' && kind != "namespace":
		case c == ':' && kind == "host":
		default:
			return false
		}
	}
	return true
}

// String returns the fully qualified name, host/namespace/model:tag.
func (n Name) String() string { return n.Host + "/" + n.Namespace + "/" + n.Model + ":" + n.Tag }

// Short returns the name as Ollama displays it (DisplayShortest): without
// the default host and namespace, always with the tag.
func (n Name) Short() string {
	switch {
	case !strings.EqualFold(n.Host, DefaultHost):
		return n.Host + "/" + n.Namespace + "/" + n.Model + ":" + n.Tag
	case !strings.EqualFold(n.Namespace, DefaultNamespace):
		return n.Namespace + "/" + n.Model + ":" + n.Tag
	}
	return n.Model + ":" + n.Tag
}

// manifestPath is the manifest's path under the models directory
// (manifest.PathForName: manifests/host/namespace/model/tag).
func (n Name) manifestPath(dir string) string {
	return filepath.Join(dir, "manifests", n.Host, n.Namespace, n.Model, n.Tag)
}
