package gguf

import (
	"errors"
	"fmt"
)

// Sentinel errors to branch on with errors.Is; the *FormatError that wraps
// them says where in which file.
var (
	ErrBadMagic           = errors.New("not a GGUF file (bad magic)")
	ErrUnsupportedVersion = errors.New("unsupported GGUF version")
	ErrBigEndian          = errors.New("big-endian GGUF files are not supported")
	ErrUnknownType        = errors.New("unknown tensor type")
	ErrTruncated          = errors.New("file ends inside the header")
	ErrMissingPart        = errors.New("split model part missing")
)

// FormatError reports a malformed or unsupported GGUF file: which file, the
// byte offset where the bad field starts, the field, and what was wrong.
type FormatError struct {
	Path  string // file name or URL; empty when parsing an anonymous reader
	Off   int64  // byte offset of the field in that file
	Field string // e.g. "header.version", "tensor[3].type", `kv["general.alignment"]`
	Msg   string // what was expected or found
	Err   error  // a sentinel above or an I/O error, if any
}

func (e *FormatError) Error() string {
	s := "gguf: "
	if e.Path != "" {
		s += e.Path + ": "
	}
	s += fmt.Sprintf("offset %d (0x%x): %s: %s", e.Off, e.Off, e.Field, e.Msg)
	if e.Err != nil && e.Err.Error() != e.Msg {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *FormatError) Unwrap() error { return e.Err }
