package reconciler

// Config Sync's error model (pkg/status): every error the reconciler reports carries a KNV code, a body, and
// optionally the resources or file paths it is about. Error() is "KNV<code>: <body>\n\nFor more information, see
// https://g.co/cloud/acm-errors#knv<code>"; the body is built the way status.ErrorBuilder builds it (Sprint prefixes,
// Wrap appends ": <wrapped error>", resources and paths are appended after a blank line).

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

const errorURLBase = "For more information, see https://g.co/cloud/acm-errors#knv"

// KNV codes used here (pkg/status, pkg/importer/analyzer/validation, pkg/applier).
const (
	codePath                 = "2001" // status.PathErrorCode
	codeAPIServer            = "2002" // status.APIServerErrorCode
	codeSource               = "2004" // status.SourceErrorCode
	codeEmptySource          = "2006" // status.EmptySourceErrorCode
	codeApplier              = "2009" // applier.ApplierErrorCode
	codeResource             = "2010" // status.ResourceErrorCode
	codeInsufficientPerm     = "2013" // status.InsufficientPermissionErrorCode
	codeTransient            = "2016" // status.TransientErrorCode
	codeInternal             = "9998" // status.InternalErrorCode
	codeUndocumented         = "9999" // status.UndocumentedErrorCode
	codeUnknownKind          = "1021" // status.UnknownKindErrorCode
	codeManagementConflict   = "1060" // status.ManagementConflictErrorCode
	codeIllegalAnnotation    = "1010"
	codeIllegalLabel         = "1011"
	codeIllegalMgmtAnno      = "1005"
	codeMissingName          = "1031"
	codeInvalidName          = "1036"
	codeInvalidNamespace     = "1055"
	codeIllegalNamespace     = "1034"
	codeIllegalHierKind      = "1032"
	codeUnsupportedObject    = "1043"
	codeDeprecatedGroupKind  = "1050"
	codeIllegalFields        = "1045"
	codeNameCollision        = "1029"
	codeClusterScopedNs      = "1052"
	codeNsAndSelector        = "1053"
	codeBadScope             = "1058"
	codeIllegalSelectorAnno  = "1004"
	codeSelfReconcile        = "1069"
	codeManagedInUnmanagedNs = "1056"
	codeInvalidCRDName       = "1048"
	codeIllegalMetadataNs    = "1009"
	codeIllegalTopLevelNs    = "1019"
	codeInvalidNsName        = "1020"
	codeMissingRepo          = "1017"
	codeUnsupportedRepoVer   = "1027"
)

// Error is one Config Sync error: a KNV code, its body, and the resources or paths it names.
type Error struct {
	Code      string
	Body      string
	Resources []*unstructured.Unstructured
	Paths     []string // slash paths, as given to status.PathWrapError
}

func (e *Error) Error() string {
	return "KNV" + e.Code + ": " + e.Body + "\n\n" + errorURLBase + e.Code
}

// MultiError is an ordered list of errors (status.MultiError); nil means no error.
type MultiError []*Error

func (m MultiError) Error() string {
	parts := make([]string, len(m))
	for i, e := range m {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// appendErrs is status.Append: nil-safe concatenation.
func appendErrs(m MultiError, errs ...*Error) MultiError {
	for _, e := range errs {
		if e != nil {
			m = append(m, e)
		}
	}
	return m
}

// builder mirrors status.ErrorBuilder: Sprint adds "message: <previous body>", Wrap adds "<body>: <err>".
type builder struct {
	code string
	body string
}

func newBuilder(code string) builder { return builder{code: code} }

func (b builder) sprint(msg string) builder {
	if b.body == "" {
		return builder{code: b.code, body: msg}
	}
	return builder{code: b.code, body: msg + ": " + b.body}
}

func (b builder) sprintf(format string, a ...interface{}) builder {
	return b.sprint(fmt.Sprintf(format, a...))
}

func (b builder) wrap(err error) builder {
	if err == nil {
		return b
	}
	msg := err.Error()
	if b.body != "" && msg != "" {
		return builder{code: b.code, body: b.body + ": " + msg}
	}
	return builder{code: b.code, body: b.body + msg}
}

func (b builder) build() *Error { return &Error{Code: b.code, Body: b.body} }

func (b builder) withResources(resources ...*unstructured.Unstructured) *Error {
	body := b.body
	if len(resources) > 0 {
		body = formatBody(body, "\n\n", formatResources(resources...))
	}
	return &Error{Code: b.code, Body: body, Resources: resources}
}

func (b builder) withPaths(paths ...string) *Error {
	return &Error{Code: b.code, Body: formatBody(b.body, "\n\n", formatPaths(paths)), Paths: paths}
}

func formatBody(message, separator, context string) string {
	if context == "" {
		return message
	}
	return message + separator + context
}

func formatPaths(paths []string) string {
	strs := make([]string, len(paths))
	for i, p := range paths {
		strs[i] = "path: " + filepath.FromSlash(p)
		if filepath.Ext(p) == "" {
			strs[i] += "/"
		}
	}
	sort.Strings(strs)
	return strings.Join(strs, "\n")
}

func formatResources(resources ...*unstructured.Unstructured) string {
	strs := make([]string, len(resources))
	for i, r := range resources {
		strs[i] = printResource(r)
	}
	sort.Strings(strs)
	return strings.Join(strs, "\n\n")
}

// printResource is status.PrintResource.
func printResource(r *unstructured.Unstructured) string {
	var sb strings.Builder
	if sp := r.GetAnnotations()[annSourcePath]; sp != "" {
		sb.WriteString("source: " + sp + "\n")
	}
	if r.GetNamespace() != "" {
		sb.WriteString("namespace: " + r.GetNamespace() + "\n")
	}
	name := ""
	if r.GetName() != "" {
		name = " " + r.GetName()
	}
	sb.WriteString("metadata.name:" + name + "\n")
	gvk := r.GroupVersionKind()
	group := ""
	if gvk.Group != "" {
		group = " " + gvk.Group
	}
	sb.WriteString(fmt.Sprintf("group:%s\nversion: %s\nkind: %s", group, gvk.Version, gvk.Kind))
	return sb.String()
}

// --- the ConfigSyncError of the RSync status (v1beta1.ConfigSyncError) ---

type gvkRef struct {
	Group   string `json:"group"`
	Version string `json:"version"`
	Kind    string `json:"kind"`
}

type resourceRef struct {
	SourcePath string `json:"sourcePath,omitempty"`
	Name       string `json:"name,omitempty"`
	Namespace  string `json:"namespace,omitempty"`
	GVK        gvkRef `json:"gvk"`
}

type configSyncError struct {
	Code         string        `json:"code"`
	ErrorMessage string        `json:"errorMessage"`
	Resources    []resourceRef `json:"errorResources,omitempty"`
}

func (e *Error) cse() configSyncError {
	c := configSyncError{Code: e.Code, ErrorMessage: displayPaths.display(e.Error())}
	for _, p := range e.Paths {
		c.Resources = append(c.Resources, resourceRef{SourcePath: displayPaths.display(p)})
	}
	for _, r := range e.Resources {
		gvk := r.GroupVersionKind()
		c.Resources = append(c.Resources, resourceRef{
			SourcePath: displayPaths.display(r.GetAnnotations()[annSourcePath]), Name: r.GetName(), Namespace: r.GetNamespace(),
			GVK: gvkRef{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind},
		})
	}
	return c
}

func toCSE(m MultiError) []configSyncError {
	var out []configSyncError
	for _, e := range m {
		out = append(out, e.cse())
	}
	return out
}

// hasBlockingErrors is status.HasBlockingErrors: only unknown-kind errors (KNV1021) let the sync go on.
func hasBlockingErrors(m MultiError) bool {
	for _, e := range m {
		if e.Code != codeUnknownKind {
			return true
		}
	}
	return false
}

// --- common constructors ---

// sourceError is status.SourceError.Wrap(err).Build() (KNV2004).
func sourceError(err error) *Error { return newBuilder(codeSource).wrap(err).build() }

// pathWrapError is status.PathWrapError (KNV2001).
func pathWrapError(err error, slashPaths ...string) *Error {
	return newBuilder(codePath).wrap(err).withPaths(slashPaths...)
}

// apiServerErrorf is status.APIServerErrorf: KNV2013 when forbidden, KNV2002 otherwise.
func apiServerErrorf(err error, format string, a ...interface{}) *Error {
	if isForbidden(err) {
		return newBuilder(codeInsufficientPerm).
			sprint("Insufficient permission. To fix, make sure the reconciler has sufficient permissions.").
			sprintf(format, a...).wrap(err).build()
	}
	return newBuilder(codeAPIServer).sprint("APIServer error").sprintf(format, a...).wrap(err).build()
}

// apiServerError is status.APIServerError with optional resources.
func apiServerError(err error, message string, resources ...*unstructured.Unstructured) *Error {
	var b builder
	if isForbidden(err) {
		b = newBuilder(codeInsufficientPerm).
			sprint("Insufficient permission. To fix, make sure the reconciler has sufficient permissions.").sprint(message).wrap(err)
	} else {
		b = newBuilder(codeAPIServer).sprint("APIServer error").sprint(message).wrap(err)
	}
	if len(resources) == 0 {
		return b.build()
	}
	return b.withResources(resources...)
}

func internalErrorf(format string, a ...interface{}) *Error {
	return newBuilder(codeInternal).sprint("internal error").sprintf(format, a...).build()
}

func undocumented(err error) *Error {
	return newBuilder(codeUndocumented).wrap(err).build()
}

// applierError is applier.Error (KNV2009 wrapping err).
func applierError(err error) *Error { return newBuilder(codeApplier).wrap(err).build() }

// objID is core.ID's String(): "Kind.group, namespace/name".
func objID(gk schema.GroupKind, namespace, name string) string {
	return fmt.Sprintf("%s, %s/%s", gk.String(), namespace, name)
}
