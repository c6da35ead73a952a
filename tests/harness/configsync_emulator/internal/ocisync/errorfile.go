package ocisync

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/klog/v2"
)

// errorReporter logs like Config Sync's pkg/util/log Logger and mirrors every logged error into
// <root>/<errorFile>, which the reconciler reads and reports as KNV2004 "error in the oci-sync container: <content>".
// An empty errorFile disables the file, as in the real binary.
type errorReporter struct {
	root      string
	errorFile string
}

// errorPayload is the JSON document written to the error file: field names and order are the real ones
// ({"Msg":...,"Err":...,"Args":{...}}).
type errorPayload struct {
	Msg  string
	Err  string
	Args map[string]interface{}
}

// formatErrorPayload is what the error file holds after Error(err, msg, kv...): encoding/json with its default
// HTML escaping, as the real one.
func formatErrorPayload(err error, msg string, kv ...interface{}) ([]byte, error) {
	p := errorPayload{Msg: msg, Err: err.Error(), Args: map[string]interface{}{}}
	if len(kv)%2 != 0 {
		kv = append(kv, "<no-value>")
	}
	for i := 0; i+1 < len(kv); i += 2 {
		key, ok := kv[i].(string)
		if !ok {
			key = fmt.Sprintf("%v", kv[i])
		}
		p.Args[key] = kv[i+1]
	}
	return json.Marshal(p)
}

// Info logs at verbosity 0.
func (r *errorReporter) Info(msg string, kv ...interface{}) {
	klog.InfoSDepth(1, msg, kv...)
}

// Error logs the error and writes it to the error file.
func (r *errorReporter) Error(err error, msg string, kv ...interface{}) {
	klog.ErrorSDepth(1, err, msg, kv...)
	if r.errorFile == "" {
		return
	}
	content, jerr := formatErrorPayload(err, msg, kv...)
	if jerr != nil {
		klog.ErrorS(jerr, "can't encode error payload")
		content = []byte(jerr.Error())
	}
	r.write(content)
}

// exportError writes a plain-text error (flag validation failures) to the error file.
func (r *errorReporter) exportError(content string) {
	if r.errorFile == "" {
		return
	}
	r.write([]byte(content))
}

// deleteErrorFile removes the error file after a good sync.
func (r *errorReporter) deleteErrorFile() {
	if r.errorFile == "" {
		return
	}
	path := filepath.Join(r.root, r.errorFile)
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		klog.ErrorS(err, "can't delete the error-file", "filename", path)
	}
}

// write replaces the error file atomically: a temporary file in root renamed over it, mode 0644.
func (r *errorReporter) write(content []byte) {
	if _, err := os.Stat(r.root); os.IsNotExist(err) {
		if err := os.Mkdir(r.root, 0o755); err != nil {
			klog.ErrorS(err, "can't create the root directory", "root", r.root)
			return
		}
	}
	tmp, err := os.CreateTemp(r.root, "tmp-err-")
	if err != nil {
		klog.ErrorS(err, "can't create temporary error-file", "directory", r.root, "prefix", "tmp-err-")
		return
	}
	defer func() {
		if err := tmp.Close(); err != nil {
			klog.ErrorS(err, "can't close temporary error-file", "filename", tmp.Name())
		}
	}()
	if _, err := tmp.Write(content); err != nil {
		klog.ErrorS(err, "can't write to temporary error-file", "filename", tmp.Name())
		return
	}
	path := filepath.Join(r.root, r.errorFile)
	if err := os.Rename(tmp.Name(), path); err != nil {
		klog.ErrorS(err, "can't rename to error-file", "temp-file", tmp.Name(), "error-file", path)
		return
	}
	if err := os.Chmod(path, 0o644); err != nil {
		klog.ErrorS(err, "can't change permissions on the error-file", "error-file", path)
	}
}
