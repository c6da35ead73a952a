package reconciler

// Reading what oci-sync left on the shared volume (pkg/hydrate/controller.go SourceCommitAndSyncPath,
// pkg/parse/source.go) and the configuration files under the sync directory (pkg/importer/reader).

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
)

// containerRepoRoot is where the reconciler Deployment mounts the repo volume; messages name paths under it even when
// the volume is a local directory (the harness runs the container as a process).
const containerRepoRoot = "/repo"

// pathMapper rewrites the local --repo-root (as given and as resolved) to /repo in user-facing text.
type pathMapper struct{ prefixes []string }

func newPathMapper(localRepoRoot string) *pathMapper {
	m := &pathMapper{}
	add := func(p string) {
		p = strings.TrimRight(p, "/")
		if p == "" || p == containerRepoRoot {
			return
		}
		for _, q := range m.prefixes {
			if q == p {
				return
			}
		}
		m.prefixes = append(m.prefixes, p)
	}
	add(localRepoRoot)
	if real, err := filepath.EvalSymlinks(localRepoRoot); err == nil {
		add(real)
	}
	// Longest first, so a prefix of another one does not cut it.
	for i := range m.prefixes {
		for j := i + 1; j < len(m.prefixes); j++ {
			if len(m.prefixes[j]) > len(m.prefixes[i]) {
				m.prefixes[i], m.prefixes[j] = m.prefixes[j], m.prefixes[i]
			}
		}
	}
	return m
}

func (m *pathMapper) display(s string) string {
	if m == nil {
		return s
	}
	for _, p := range m.prefixes {
		s = strings.ReplaceAll(s, p, containerRepoRoot)
	}
	return s
}

// displayPaths is the process-wide mapper used when errors are written into the RSync status.
var displayPaths *pathMapper

// retriableError is util.RetriableError: the *-sync sidecar may not be ready yet.
type retriableError struct{ err error }

func (r *retriableError) Error() string { return r.err.Error() }

// sourceCommitAndSyncPath is hydrate.SourceCommitAndSyncPath for an oci source.
func sourceCommitAndSyncPath(sourceDir, syncDir, reconcilerName string) (string, string, error) {
	sourceRoot := filepath.Dir(sourceDir)
	if _, err := os.Stat(sourceRoot); err != nil {
		return "", "", &retriableError{fmt.Errorf("failed to check the status of the source root directory %q: %w", sourceRoot, err)}
	}
	errFilePath := filepath.Join(sourceRoot, "error.json")
	content, err := os.ReadFile(errFilePath)
	switch {
	case err != nil && !os.IsNotExist(err):
		return "", "", &retriableError{fmt.Errorf("failed to check the status of the source error file %q: %v", errFilePath, err)}
	case err == nil && len(content) == 0:
		return "", "", fmt.Errorf("%s is empty. Please check %s logs for more info: kubectl logs -n %s -l %s -c %s",
			errFilePath, "oci-sync", controllerNamespace, configSyncPrefix+"reconciler", reconcilerName)
	case err == nil:
		return "", "", fmt.Errorf("error in the %s container: %s", "oci-sync", string(content))
	}
	gitDir, err := filepath.EvalSymlinks(sourceDir)
	if err != nil {
		return "", "", &retriableError{fmt.Errorf("failed to evaluate the source rev directory %q: %v", sourceDir, err)}
	}
	commit := filepath.Base(gitDir)
	logicalSyncPath := filepath.Join(gitDir, syncDir)
	physicalSyncPath, err := filepath.EvalSymlinks(logicalSyncPath)
	if err != nil {
		return "", "", fmt.Errorf("failed to evaluate the config directory %q: %w", logicalSyncPath, err)
	}
	return commit, physicalSyncPath, nil
}

// sourceCommitAndSyncPathWithRetry retries the sidecar-not-ready cases with util.SourceRetryBackoff (1s doubling,
// 10 steps, 5m cap), then reports what is left as a KNV2004 source error.
func sourceCommitAndSyncPathWithRetry(stop <-chan struct{}, sourceDir, syncDir, reconcilerName string) (string, string, *Error) {
	delay := time.Second
	for step := 0; ; step++ {
		commit, syncPath, err := sourceCommitAndSyncPath(sourceDir, syncDir, reconcilerName)
		if err == nil {
			return commit, syncPath, nil
		}
		var re *retriableError
		if !errors.As(err, &re) || step >= 9 {
			return commit, syncPath, sourceError(err)
		}
		logf("%v", err)
		select {
		case <-stop:
			return "", "", sourceError(err)
		case <-time.After(delay):
		}
		delay *= 2
		if delay > 5*time.Minute {
			delay = 5 * time.Minute
		}
	}
}

// computeCommit is hydrate.ComputeCommit.
func computeCommit(sourceDir string) (string, error) {
	dir, err := filepath.EvalSymlinks(sourceDir)
	if err != nil {
		return "", fmt.Errorf("unable to evaluate the symbolic link of sourceDir %s: %w", dir, err)
	}
	return filepath.Base(dir), nil
}

// listFiles is parse.listFiles: every file under dir (symlinks resolved), skipping .git directories.
func listFiles(dir string) ([]string, error) {
	var result []string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.IsDir() {
			if fi.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		abs, err := filepath.EvalSymlinks(p)
		if err != nil {
			return err
		}
		result = append(result, abs)
		return nil
	})
	return result, err
}

// fileObject is ast.FileObject: an object and its file, relative to the sync directory.
type fileObject struct {
	*unstructured.Unstructured
	rel string // slash path relative to the sync directory
}

func (f fileObject) split() []string { return strings.Split(f.rel, "/") }

// readFiles is reader.File.Read: every .yaml/.yml/.json file becomes objects; any error fails the whole read.
func readFiles(rootDir string, files []string) ([]fileObject, MultiError) {
	var objs []fileObject
	var errs MultiError
	for _, f := range files {
		newObjs, err := readFile(rootDir, f)
		if err != nil {
			errs = append(errs, err...)
			continue
		}
		objs = append(objs, newObjs...)
	}
	if errs != nil {
		return nil, errs
	}
	return objs, nil
}

func readFile(rootDir, file string) ([]fileObject, MultiError) {
	for _, piece := range strings.Split(file, "/") {
		if piece == ".github" || piece == ".gitlab" || piece == ".gitlab-ci.yml" {
			return nil, nil
		}
	}
	us, err := parseFile(file)
	if err != nil {
		return nil, MultiError{pathWrapError(err, filepath.ToSlash(file))}
	}
	var objs []fileObject
	var errs MultiError
	for _, u := range us {
		newObjs, e := toFileObjects(u, rootDir, file)
		errs = append(errs, e...)
		objs = append(objs, newObjs...)
	}
	return objs, errs
}

func parseFile(p string) ([]*unstructured.Unstructured, error) {
	if !filepath.IsAbs(p) {
		return nil, errors.New("attempted to read relative path")
	}
	switch filepath.Ext(p) {
	case ".yml", ".yaml":
		contents, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		return parseYAML(contents)
	case ".json":
		contents, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if len(contents) == 0 {
			return nil, nil
		}
		var u unstructured.Unstructured
		if err := u.UnmarshalJSON(contents); err != nil {
			return nil, err
		}
		return filterLocalConfig([]*unstructured.Unstructured{&u}), nil
	}
	return nil, nil
}

func isEmptyYAMLDocument(document string) bool {
	for _, line := range strings.Split(document, "\n") {
		trimmed := strings.TrimLeftFunc(line, unicode.IsSpace)
		if len(trimmed) == 0 || strings.HasPrefix(trimmed, "#") {
			continue
		}
		return false
	}
	return true
}

// parseYAML splits on "\n---" after prepending a newline (so line numbers in errors count that newline, as the real
// reader's do) and decodes each document with client-go's universal deserializer.
func parseYAML(contents []byte) ([]*unstructured.Unstructured, error) {
	var result []*unstructured.Unstructured
	for _, document := range strings.Split("\n"+string(contents), "\n---") {
		if isEmptyYAMLDocument(document) {
			continue
		}
		var u unstructured.Unstructured
		if _, _, err := scheme.Codecs.UniversalDeserializer().Decode([]byte(document), nil, &u); err != nil {
			return nil, err
		}
		result = append(result, &u)
	}
	return filterLocalConfig(result), nil
}

func filterLocalConfig(us []*unstructured.Unstructured) []*unstructured.Unstructured {
	var result []*unstructured.Unstructured
	for _, u := range us {
		if v, found := u.GetAnnotations()[annLocalConfig]; found && v != "false" {
			continue
		}
		result = append(result, u)
	}
	return result
}

func toFileObjects(u *unstructured.Unstructured, rootDir, file string) ([]fileObject, MultiError) {
	if u.IsList() {
		var result []fileObject
		var errs MultiError
		err := u.EachListItem(func(o runtime.Object) error {
			item, ok := o.(*unstructured.Unstructured)
			if !ok {
				errs = append(errs, internalErrorf("converted %s from runtime.Unstructured too soon", o.GetObjectKind().GroupVersionKind().String()))
				return nil
			}
			objs, e := toFileObjects(item, rootDir, file)
			result = append(result, objs...)
			errs = append(errs, e...)
			return nil
		})
		if err != nil {
			errs = append(errs, undocumented(err))
		}
		return result, errs
	}
	oid, idErrs := parseID(u.Object, file)
	if idErrs != nil {
		return nil, MultiError{newBuilder(codeResource).sprint(strings.Join(idErrs, "\n")).withResources(oid)}
	}
	if u.GroupVersionKind().Group != "configmanagement.gke.io" && hasStatusField(u) {
		return nil, MultiError{illegalFieldsInConfigError(oid, "status")}
	}
	if err := validateMetadataValues(u, oid); err != nil {
		return nil, MultiError{err}
	}
	rel, err := filepath.Rel(rootDir, file)
	if err != nil {
		return nil, MultiError{newBuilder(codeUndocumented).sprintf("unable to get relative path to %s", rootDir).withPaths(filepath.ToSlash(file))}
	}
	if u.GetAnnotations() == nil {
		u.SetAnnotations(map[string]string{})
	}
	if u.GetLabels() == nil {
		u.SetLabels(map[string]string{})
	}
	return []fileObject{{Unstructured: u, rel: path.Clean(filepath.ToSlash(rel))}}, nil
}

// parseID is reader.parseID: an identity stub for errors, with the absolute file as its source path.
func parseID(content map[string]interface{}, file string) (*unstructured.Unstructured, []string) {
	u := &unstructured.Unstructured{Object: map[string]interface{}{}}
	setAnnotation(u, annSourcePath, file)
	var errs []string
	var group, version, kind string
	if apiVersion, err := parseString(content, "apiVersion"); err == nil {
		gv, err := schema.ParseGroupVersion(apiVersion)
		if err == nil {
			group, version = gv.Group, gv.Version
		} else {
			errs = append(errs, err.Error())
		}
	} else {
		errs = append(errs, err.Error())
	}
	kind, err := parseString(content, "kind")
	if err != nil {
		errs = append(errs, err.Error())
	}
	u.SetGroupVersionKind(schema.GroupVersionKind{Group: group, Version: version, Kind: kind})
	name, err := parseString(content, "metadata", "name")
	if err != nil {
		errs = append(errs, err.Error())
	}
	u.SetName(name)
	if ns, err := parseString(content, "metadata", "namespace"); err == nil {
		u.SetNamespace(ns)
	}
	return u, errs
}

func parseString(content map[string]interface{}, fields ...string) (string, error) {
	value, found, err := unstructured.NestedString(content, fields...)
	if err != nil {
		return "", err
	}
	if !found || value == "" {
		return "", fmt.Errorf("missing field %q", strings.Join(fields, "."))
	}
	return value, nil
}

func hasStatusField(u *unstructured.Unstructured) bool {
	m, ok, _ := unstructured.NestedFieldNoCopy(u.Object, "status")
	if !ok || m == nil {
		return false
	}
	mm, isMap := m.(map[string]interface{})
	return !isMap || len(mm) != 0
}

func validateMetadataValues(u *unstructured.Unstructured, oid *unstructured.Unstructured) *Error {
	meta, ok := u.Object["metadata"].(map[string]interface{})
	if !ok {
		return newBuilder(codeResource).sprint("resource does not define metadata").withResources(oid)
	}
	for _, field := range []string{"annotations", "labels"} {
		v, has := meta[field]
		if !has || v == nil {
			continue
		}
		m, isMap := v.(map[string]interface{})
		if !isMap {
			return newBuilder(codeResource).wrap(fmt.Errorf("validating %s: not a map: %v", field, v)).withResources(oid)
		}
		var invalid []string
		for k, val := range m {
			if _, isString := val.(string); !isString {
				invalid = append(invalid, k)
			}
		}
		if len(invalid) > 0 {
			return newBuilder("1054").sprintf("Values in metadata.annotations MUST be strings. "+
				"To fix, add quotes around the values. Non-string values for:\nmetadata.annotations.%s ",
				strings.Join(invalid, "\nmetadata.annotations.")).withResources(oid)
		}
	}
	return nil
}

func illegalFieldsInConfigError(r *unstructured.Unstructured, field string) *Error {
	return newBuilder(codeIllegalFields).sprintf("Configs with %[1]q specified are not allowed. "+
		"To fix, either remove the config or remove the %[1]q field in the config:", field).withResources(r)
}
