// Package crdschema checks an object against a CustomResourceDefinition's OpenAPI v3 schema the way the API server's
// structural schema treats it: unknown fields (which the server would silently prune), wrong types, missing required
// fields, values outside an enum. The emulator's tests use it to hold every status shape it writes to Config Sync's
// release CRDs, read in place from ../shared/reference/.
package crdschema

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// Schema is one node of an OpenAPI v3 schema.
type Schema struct {
	Type                  string             `json:"type"`
	Properties            map[string]*Schema `json:"properties"`
	Items                 *Schema            `json:"items"`
	AdditionalProperties  *Schema            `json:"additionalProperties"`
	Required              []string           `json:"required"`
	Enum                  []interface{}      `json:"enum"`
	Nullable              bool               `json:"nullable"`
	Format                string             `json:"format"`
	PreserveUnknownFields bool               `json:"x-kubernetes-preserve-unknown-fields"`
	IntOrString           bool               `json:"x-kubernetes-int-or-string"`
	EmbeddedResource      bool               `json:"x-kubernetes-embedded-resource"`
}

type crd struct {
	Spec struct {
		Versions []struct {
			Name   string `json:"name"`
			Schema struct {
				OpenAPIV3Schema *Schema `json:"openAPIV3Schema"`
			} `json:"schema"`
		} `json:"versions"`
	} `json:"spec"`
}

// ManifestsDir is where Config Sync v1.24.3's release manifests are kept beside the checkout (CONFIGSYNC_MANIFESTS_DIR
// names another folder).
func ManifestsDir() string {
	if dir := os.Getenv("CONFIGSYNC_MANIFESTS_DIR"); dir != "" {
		return dir
	}
	_, file, _, _ := runtime.Caller(0)
	// internal/crdschema -> configsync_emulator -> harness -> tests -> repository -> its parent
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "..", "..", "shared", "reference", "config-sync-1.24.3-manifests")
}

// Load reads the schema of one version of a CRD file in ManifestsDir (e.g. "rootsync-crd.yaml", "v1beta1").
func Load(file, version string) (*Schema, error) {
	data, err := os.ReadFile(filepath.Join(ManifestsDir(), file))
	if err != nil {
		return nil, err
	}
	var definition crd
	if err := yaml.Unmarshal(data, &definition); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	for _, v := range definition.Spec.Versions {
		if v.Name == version && v.Schema.OpenAPIV3Schema != nil {
			return v.Schema.OpenAPIV3Schema, nil
		}
	}
	return nil, fmt.Errorf("%s has no schema for version %s", file, version)
}

// Validate lists every way obj (decoded JSON: maps, slices, strings, float64/int64, bools, nil) departs from s.
// An empty list means the API server would store obj as it is.
func Validate(s *Schema, obj interface{}) []string {
	var problems []string
	walk(s, obj, "", &problems)
	sort.Strings(problems)
	return problems
}

// At returns the schema of a dotted path ("status", "status.conditions").
func (s *Schema) At(path string) *Schema {
	node := s
	for _, part := range strings.Split(path, ".") {
		if node == nil {
			return nil
		}
		if part == "[]" {
			node = node.Items
			continue
		}
		node = node.Properties[part]
	}
	return node
}

func walk(s *Schema, value interface{}, path string, problems *[]string) {
	if s == nil {
		return
	}
	if value == nil {
		if !s.Nullable {
			*problems = append(*problems, fmt.Sprintf("%s: null where the schema (type %s) is not nullable", name(path), s.Type))
		}
		return
	}
	if len(s.Enum) > 0 && !inEnum(s.Enum, value) {
		*problems = append(*problems, fmt.Sprintf("%s: %v is not one of %v", name(path), value, s.Enum))
	}
	if s.IntOrString {
		switch value.(type) {
		case string, float64, int, int64:
			return
		}
	}
	switch s.Type {
	case "object":
		fields, ok := value.(map[string]interface{})
		if !ok {
			*problems = append(*problems, fmt.Sprintf("%s: %T where the schema wants an object", name(path), value))
			return
		}
		for _, key := range s.Required {
			if _, present := fields[key]; !present {
				*problems = append(*problems, fmt.Sprintf("%s: required field %q is missing", name(path), key))
			}
		}
		for key, child := range fields {
			childPath := join(path, key)
			switch {
			case s.Properties[key] != nil:
				walk(s.Properties[key], child, childPath, problems)
			case s.AdditionalProperties != nil:
				walk(s.AdditionalProperties, child, childPath, problems)
			case s.PreserveUnknownFields || s.EmbeddedResource && isMetaField(key):
			default:
				*problems = append(*problems, fmt.Sprintf("%s: unknown field (the API server would prune it)", childPath))
			}
		}
	case "array":
		items, ok := value.([]interface{})
		if !ok {
			*problems = append(*problems, fmt.Sprintf("%s: %T where the schema wants an array", name(path), value))
			return
		}
		for i, item := range items {
			walk(s.Items, item, fmt.Sprintf("%s[%d]", path, i), problems)
		}
	case "string":
		if _, ok := value.(string); !ok {
			*problems = append(*problems, fmt.Sprintf("%s: %T where the schema wants a string", name(path), value))
		}
	case "integer":
		switch v := value.(type) {
		case int, int32, int64:
		case float64:
			if v != float64(int64(v)) {
				*problems = append(*problems, fmt.Sprintf("%s: %v is not an integer", name(path), v))
			}
		default:
			*problems = append(*problems, fmt.Sprintf("%s: %T where the schema wants an integer", name(path), value))
		}
	case "number":
		switch value.(type) {
		case int, int32, int64, float64:
		default:
			*problems = append(*problems, fmt.Sprintf("%s: %T where the schema wants a number", name(path), value))
		}
	case "boolean":
		if _, ok := value.(bool); !ok {
			*problems = append(*problems, fmt.Sprintf("%s: %T where the schema wants a boolean", name(path), value))
		}
	}
}

func isMetaField(key string) bool { return key == "apiVersion" || key == "kind" || key == "metadata" }

func inEnum(enum []interface{}, value interface{}) bool {
	for _, allowed := range enum {
		if fmt.Sprint(allowed) == fmt.Sprint(value) {
			return true
		}
	}
	return false
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func name(path string) string {
	if path == "" {
		return "(root)"
	}
	return path
}
