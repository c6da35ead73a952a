package reconciler

// Validation and hydration of the parsed objects (pkg/validate: raw, scoped, final; pkg/parse/root_sync_parser.go,
// repository_scope.go). Error texts are those of pkg/importer/analyzer/validation and pkg/status.

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apipath "k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/discovery"
)

// runtimeConvert decodes an unstructured map into a typed value.
func runtimeConvert(m map[string]interface{}, into interface{}) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructured(m, into)
}

var (
	gkNamespace         = schema.GroupKind{Kind: "Namespace"}
	gkCRD               = schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}
	gkRepo              = schema.GroupKind{Group: "configmanagement.gke.io", Kind: "Repo"}
	gkHierarchyConfig   = schema.GroupKind{Group: "configmanagement.gke.io", Kind: "HierarchyConfig"}
	gkNamespaceSelector = schema.GroupKind{Group: "configmanagement.gke.io", Kind: "NamespaceSelector"}
	gkClusterSelector   = schema.GroupKind{Group: "configmanagement.gke.io", Kind: "ClusterSelector"}
	gkSync              = schema.GroupKind{Group: "configmanagement.gke.io", Kind: "Sync"}
	gkCluster           = schema.GroupKind{Group: "clusterregistry.k8s.io", Kind: "Cluster"}
	gkRootSync          = schema.GroupKind{Group: "configsync.gke.io", Kind: "RootSync"}
	gkRepoSync          = schema.GroupKind{Group: "configsync.gke.io", Kind: "RepoSync"}
)

// builtinScopes are scopes Config Sync knows without asking the API server (its CoreScoper), for the kinds the test
// control plane does not serve.
var builtinScopes = map[schema.GroupKind]scopeType{
	gkClusterSelector:   clusterScope,
	gkHierarchyConfig:   clusterScope,
	gkNamespaceSelector: clusterScope,
	gkRepo:              clusterScope,
	gkSync:              clusterScope,
	gkCluster:           clusterScope,
	gkRepoSync:          namespaceScope,
	gkRootSync:          namespaceScope,
}

// specialNamespaces are those Config Sync never deletes (differ.SpecialNamespaces).
var specialNamespaces = map[string]bool{
	"default": true, "kube-system": true, "kube-public": true, "kube-node-lease": true, "gatekeeper-system": true,
}

func gkOf(o *unstructured.Unstructured) schema.GroupKind { return o.GroupVersionKind().GroupKind() }

type scopeType int

const (
	unknownScope scopeType = iota
	clusterScope
	namespaceScope
)

// parseOptions is what the parser needs besides the files.
type parseOptions struct {
	scope          string // ":root" or the RepoSync namespace
	syncName       string
	clusterName    string
	policyDir      string // the cleaned sync dir, slash form ("." for the root)
	hierarchy      bool
	implicitNS     bool // unstructured root with namespaceStrategy implicit
	reconcilerName string
	discovery      discovery.DiscoveryInterface
	// getNamespace reads a cluster Namespace (implicit namespaces); nil skips the check.
	getNamespace func(ctx context.Context, name string) (*unstructured.Unstructured, error)
}

func (o parseOptions) isRoot() bool { return o.scope == rootScope }

func syncNamespaceOf(scope string) string {
	if scope == rootScope {
		return controllerNamespace
	}
	return scope
}

// --- raw validators (pkg/validate/raw/validate) ---

func validateAnnotations(o fileObject) *Error {
	var invalid []string
	for k := range o.GetAnnotations() {
		if hasConfigSyncPrefix(k) && !sourceAnnotations[k] {
			invalid = append(invalid, k)
		}
	}
	if len(invalid) == 0 {
		return nil
	}
	sort.Strings(invalid)
	quoted := make([]string, len(invalid))
	for i, a := range invalid {
		quoted[i] = fmt.Sprintf("%q", a)
	}
	return newBuilder(codeIllegalAnnotation).sprintf("Configs MUST NOT declare unsupported annotations starting with %q or %q. "+
		"The config has invalid annotations: %s", configManagementPrefix, configSyncPrefix, strings.Join(quoted, ", ")).
		withResources(o.Unstructured)
}

func validateLabels(o fileObject) *Error {
	var invalid []string
	for k := range o.GetLabels() {
		if hasConfigSyncPrefix(k) {
			invalid = append(invalid, k)
		}
	}
	if len(invalid) == 0 {
		return nil
	}
	sort.Strings(invalid)
	quoted := make([]string, len(invalid))
	for i, a := range invalid {
		quoted[i] = fmt.Sprintf("%q", a)
	}
	return newBuilder(codeIllegalLabel).sprintf("Configs MUST NOT declare labels starting with %q. "+
		"The config has disallowed labels: %s", configManagementPrefix, strings.Join(quoted, ", ")).withResources(o.Unstructured)
}

func unsupportedObjectError(o *unstructured.Unstructured) *Error {
	return newBuilder(codeUnsupportedObject).sprintf("%s does not allow configuring CRDs in the `%s` APIGroup. To fix, please use a different APIGroup.",
		"Anthos Configuration Management", "configmanagement.gke.io").withResources(o)
}

func validateIllegalKinds(o fileObject, hierarchy bool) *Error {
	gk := gkOf(o.Unstructured)
	if gk == gkSync {
		return unsupportedObjectError(o.Unstructured)
	}
	if !hierarchy && (gk == gkRepo || gk == gkHierarchyConfig) {
		return newBuilder(codeIllegalHierKind).sprintf("The type %v is not allowed if `sourceFormat` is set to "+
			"`unstructured`. To fix, remove the problematic config, or convert your repo "+
			"to use `sourceFormat: hierarchy`.", gk.String()).withResources(o.Unstructured)
	}
	return nil
}

var deprecatedKinds = map[schema.GroupKind]schema.GroupKind{
	{Group: "extensions", Kind: "DaemonSet"}:         {Group: "apps", Kind: "DaemonSet"},
	{Group: "extensions", Kind: "Deployment"}:        {Group: "apps", Kind: "Deployment"},
	{Group: "extensions", Kind: "Ingress"}:           {Group: "networking.k8s.io", Kind: "Ingress"},
	{Group: "extensions", Kind: "ReplicaSet"}:        {Group: "apps", Kind: "ReplicaSet"},
	{Group: "extensions", Kind: "NetworkPolicy"}:     {Group: "networking.k8s.io", Kind: "NetworkPolicy"},
	{Group: "extensions", Kind: "PodSecurityPolicy"}: {Group: "policy", Kind: "PodSecurityPolicy"},
	{Group: "extensions", Kind: "StatefulSet"}:       {Group: "apps", Kind: "StatefulSet"},
}

func validateDeprecatedKinds(o fileObject) *Error {
	if expected, bad := deprecatedKinds[gkOf(o.Unstructured)]; bad {
		return newBuilder(codeDeprecatedGroupKind).sprintf("The config is using a deprecated Group and Kind. To fix, set the Group and Kind to %q",
			expected.String()).withResources(o.Unstructured)
	}
	return nil
}

func validateName(o fileObject) *Error {
	if o.GetName() == "" {
		return newBuilder(codeMissingName).sprint("Configs must declare `metadata.name`:").withResources(o.Unstructured)
	}
	var errs []string
	if o.GroupVersionKind().Group == "rbac.authorization.k8s.io" {
		errs = apipath.IsValidPathSegmentName(o.GetName())
	} else {
		errs = validation.IsDNS1123Subdomain(o.GetName())
	}
	if errs != nil {
		return newBuilder(codeInvalidName).sprint("Configs MUST define a `metadata.name` that is shorter than 254 characters, consists of lower case alphanumeric " +
			"characters, '-' or '.', and must start and end with an alphanumeric character. Rename or remove the config:").withResources(o.Unstructured)
	}
	return nil
}

func invalidNamespaceError(o *unstructured.Unstructured) *Error {
	return newBuilder(codeInvalidNamespace).sprintf(`metadata.namespace MUST be valid Kubernetes Namespace names. Rename %q so that it:
1. has a length of 63 characters or fewer;
2. consists only of lowercase letters (a-z), digits (0-9), and hyphen '-'; and
3. begins and ends with a lowercase letter or digit.
`, o.GetNamespace()).withResources(o)
}

func isControllerNamespace(name string) bool {
	return name == controllerNamespace || name == "resource-group-system" || name == "config-management-monitoring"
}

func validateNamespace(o fileObject) *Error {
	if gkOf(o.Unstructured) == gkNamespace {
		if len(validation.IsDNS1123Label(o.GetName())) != 0 {
			return invalidNamespaceError(o.Unstructured)
		}
		if isControllerNamespace(o.GetName()) {
			return newBuilder(codeIllegalNamespace).sprintf("The %q Namespace must not be declared", o.GetName()).withResources(o.Unstructured)
		}
		return nil
	}
	if ns := o.GetNamespace(); ns != "" && len(validation.IsDNS1123Label(ns)) != 0 {
		return invalidNamespaceError(o.Unstructured)
	}
	return nil
}

func validateManagementAnnotation(o fileObject) *Error {
	v, ok := o.GetAnnotations()[annManaged]
	if !ok || v == managementDisabled {
		return nil
	}
	return newBuilder(codeIllegalMgmtAnno).sprintf("Config has invalid management annotation %s=%s. If set, the value must be %q.",
		annManaged, v, managementDisabled).withResources(o.Unstructured)
}

func validateCRD(o fileObject) *Error {
	if gkOf(o.Unstructured) != gkCRD {
		return nil
	}
	group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
	if group == "configmanagement.gke.io" || group == "configsync.gke.io" {
		return unsupportedObjectError(o.Unstructured)
	}
	return nil
}

func validateCRDName(o fileObject) *Error {
	if gkOf(o.Unstructured) != gkCRD {
		return nil
	}
	group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
	plural, _, _ := unstructured.NestedString(o.Object, "spec", "names", "plural")
	expected := fmt.Sprintf("%s.%s", plural, group)
	if o.GetName() != expected {
		return newBuilder(codeInvalidCRDName).sprintf("Invalid CustomResourceDefinition name: `%s`."+
			" The `metadata.name` MUST be in the form: `<spec.names.plural>.<spec.group>`. "+
			"To fix, update the spec fields or change the name to `%s`.", o.GetName(), expected).withResources(o.Unstructured)
	}
	return nil
}

func rootReconcilerName(name string) string {
	if name == "root-sync" {
		return "root-reconciler"
	}
	return "root-reconciler-" + name
}

func nsReconcilerName(namespace, name string) string {
	if name == "repo-sync" {
		return "ns-reconciler-" + namespace
	}
	return fmt.Sprintf("ns-reconciler-%s-%s-%d", namespace, name, len(name))
}

func validateSelfReconcile(o fileObject, reconcilerName string) *Error {
	self := false
	switch gkOf(o.Unstructured) {
	case gkRootSync:
		self = rootReconcilerName(o.GetName()) == reconcilerName
	case gkRepoSync:
		self = nsReconcilerName(o.GetNamespace(), o.GetName()) == reconcilerName
	}
	if !self {
		return nil
	}
	return newBuilder(codeSelfReconcile).sprintf("%s %s/%s must not manage itself in its repo", o.GetKind(), o.GetNamespace(), o.GetName()).
		withResources(o.Unstructured)
}

func validateDisallowedFields(objs []fileObject) MultiError {
	var errs MultiError
	for _, o := range objs {
		if len(o.GetOwnerReferences()) > 0 {
			errs = append(errs, illegalFieldsInConfigError(o.Unstructured, "metadata.ownerReference"))
		}
		if o.GetSelfLink() != "" {
			errs = append(errs, illegalFieldsInConfigError(o.Unstructured, "metadata.selfLink"))
		}
		if o.GetUID() != "" {
			errs = append(errs, illegalFieldsInConfigError(o.Unstructured, "metadata.uid"))
		}
		if o.GetResourceVersion() != "" {
			errs = append(errs, illegalFieldsInConfigError(o.Unstructured, "metadata.resourceVersion"))
		}
		if o.GetGeneration() != 0 {
			errs = append(errs, illegalFieldsInConfigError(o.Unstructured, "metadata.generation"))
		}
		if !o.GetCreationTimestamp().Time.IsZero() {
			errs = append(errs, illegalFieldsInConfigError(o.Unstructured, "metadata.creationTimestamp"))
		}
		if o.GetDeletionTimestamp() != nil {
			errs = append(errs, illegalFieldsInConfigError(o.Unstructured, "metadata.deletionTimestamp"))
		}
		if o.GetDeletionGracePeriodSeconds() != nil {
			errs = append(errs, illegalFieldsInConfigError(o.Unstructured, "metadata.deletionGracePeriodSeconds"))
		}
	}
	return errs
}

func illegalClusterSelectorAnnotationError(o *unstructured.Unstructured, annotation string) *Error {
	return newBuilder(codeIllegalSelectorAnno).sprintf("%ss may not be cluster-selected, and so MUST NOT declare the annotation '%s'. "+
		"To fix, remove `metadata.annotations.%s` from:", o.GetKind(), annotation, annotation).withResources(o)
}

func validateClusterSelectors(objs []fileObject, hierarchy bool) MultiError {
	var errs MultiError
	matches := map[string][]*unstructured.Unstructured{}
	var names []string
	for _, o := range objs {
		gk := gkOf(o.Unstructured)
		if gk == gkCluster || gk == gkClusterSelector || gk == gkNamespaceSelector {
			if _, has := o.GetAnnotations()[annClusterSelector]; has {
				errs = append(errs, illegalClusterSelectorAnnotationError(o.Unstructured, annClusterSelector))
			} else if _, has := o.GetAnnotations()[annClusterNameSel]; has {
				errs = append(errs, illegalClusterSelectorAnnotationError(o.Unstructured, annClusterNameSel))
			}
		}
		if gk == gkCluster || gk == gkClusterSelector {
			if hierarchy && o.split()[0] != "clusterregistry" {
				errs = append(errs, incorrectTopLevelDirError(o.Unstructured, "clusterregistry"))
			}
			if gk == gkClusterSelector {
				if _, seen := matches[o.GetName()]; !seen {
					names = append(names, o.GetName())
				}
				matches[o.GetName()] = append(matches[o.GetName()], o.Unstructured)
			}
		}
	}
	for _, name := range names {
		if dups := matches[name]; len(dups) > 1 {
			errs = append(errs, newBuilder(codeNameCollision).sprintf("%ss MUST have globally-unique names. "+
				"Found %d %ss named %q. Rename or delete the duplicates to fix:", "ClusterSelector", len(dups), "ClusterSelector", name).
				withResources(dups...))
		}
	}
	return errs
}

// rawValidate runs the raw validators in Config Sync's order (pkg/validate/raw/raw.go).
func rawValidate(objs []fileObject, opts parseOptions) MultiError {
	var errs MultiError
	each := func(f func(o fileObject) *Error) {
		for _, o := range objs {
			errs = appendErrs(errs, f(o))
		}
	}
	each(validateAnnotations)
	each(validateLabels)
	each(func(o fileObject) *Error { return validateIllegalKinds(o, opts.hierarchy) })
	each(validateDeprecatedKinds)
	each(validateName)
	each(validateNamespace)
	if opts.hierarchy {
		each(validateDirectory)
	}
	each(validateManagementAnnotation)
	each(validateCRD)
	each(validateCRDName)
	each(func(o fileObject) *Error { return validateSelfReconcile(o, opts.reconcilerName) })
	errs = append(errs, validateDisallowedFields(objs)...)
	errs = append(errs, validateClusterSelectors(objs, opts.hierarchy)...)
	if opts.hierarchy {
		errs = append(errs, validateRepo(objs)...)
	}
	return errs
}

// --- raw hydrators (pkg/validate/raw/hydrate) ---

// hydrateClusterSelectors is hydrate.ClusterSelectors: Namespaces first, then the rest; objects a ClusterSelector or
// cluster-name-selector does not select are dropped, and so are Cluster and ClusterSelector objects.
func hydrateClusterSelectors(objs []fileObject, clusterName string) ([]fileObject, MultiError) {
	var namespaces, resources []fileObject
	var clusterLabels map[string]string
	type sel struct {
		name     string
		selector labels.Selector
		obj      *unstructured.Unstructured
	}
	var selectors []sel
	var errs MultiError
	for _, o := range objs {
		switch gkOf(o.Unstructured) {
		case gkCluster:
			if o.GetName() == clusterName {
				clusterLabels = o.GetLabels()
			}
		case gkClusterSelector:
			selectors = append(selectors, sel{name: o.GetName(), obj: o.Unstructured})
		case gkNamespace:
			namespaces = append(namespaces, o)
		default:
			resources = append(resources, o)
		}
	}
	active := map[string]bool{}
	for _, s := range selectors {
		var ls metav1.LabelSelector
		raw, _, _ := unstructured.NestedMap(s.obj.Object, "spec", "selector")
		if raw != nil {
			if err := runtimeConvert(raw, &ls); err != nil {
				errs = append(errs, newBuilder("1014").sprintf("%s has validation errors that must be corrected", s.obj.GetKind()).wrap(err).withResources(s.obj))
				continue
			}
		}
		selector, err := metav1.LabelSelectorAsSelector(&ls)
		if err != nil {
			errs = append(errs, newBuilder("1014").sprintf("%s has validation errors that must be corrected", s.obj.GetKind()).wrap(err).withResources(s.obj))
			continue
		}
		if selector.Empty() {
			errs = append(errs, newBuilder("1014").sprintf("%ss MUST define `spec.selector`", s.obj.GetKind()).withResources(s.obj))
			continue
		}
		active[s.name] = selector.Matches(labels.Set(clusterLabels))
	}
	if errs != nil {
		return nil, errs
	}
	state := func(o fileObject) (bool, *Error) {
		legacy, hasLegacy := o.GetAnnotations()[annClusterSelector]
		inline, hasInline := o.GetAnnotations()[annClusterNameSel]
		switch {
		case hasLegacy && hasInline:
			return false, newBuilder("1066").sprintf("Config %q MUST declare ONLY ONE cluster-selector annotation, but has both inline annotation %q and legacy annotation %q. "+
				"To fix, remove one of the annotations from:", o.GetName(), annClusterNameSel, annClusterSelector).withResources(o.Unstructured)
		case !hasLegacy && !hasInline:
			return true, nil
		case hasInline:
			if clusterName == "" {
				return false, nil
			}
			for _, c := range strings.Split(inline, ",") {
				if strings.EqualFold(clusterName, strings.TrimSpace(c)) {
					return true, nil
				}
			}
			return false, nil
		default:
			a, known := active[legacy]
			if !known {
				return false, newBuilder("1013").sprintf("Config %q MUST refer to an existing ClusterSelector, but has annotation \"%s=%s\" which maps to no declared ClusterSelector",
					o.GetName(), annClusterSelector, legacy).withResources(o.Unstructured)
			}
			return a, nil
		}
	}
	var filtered []fileObject
	activeNS := map[string]bool{}
	for _, ns := range namespaces {
		ok, err := state(ns)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			filtered = append(filtered, ns)
			activeNS[ns.GetName()] = true
		} else if a, seen := activeNS[ns.GetName()]; !seen || !a {
			activeNS[ns.GetName()] = false
		}
	}
	for _, r := range resources {
		if a, ok := activeNS[r.GetNamespace()]; ok && !a {
			continue
		}
		ok, err := state(r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			filtered = append(filtered, r)
		}
	}
	if errs != nil {
		return nil, errs
	}
	return filtered, nil
}

// rawHydrate is the hydrator list of raw.Unstructured / raw.Hierarchical.
func rawHydrate(objs []fileObject, opts parseOptions) ([]fileObject, MultiError) {
	for _, o := range objs {
		setLabel(o.Unstructured, lblDeclaredVersion, o.GroupVersionKind().Version)
	}
	if opts.hierarchy {
		if errs := hydrateObjectNamespaces(objs); errs != nil {
			return nil, errs
		}
	}
	objs, errs := hydrateClusterSelectors(objs, opts.clusterName)
	if errs != nil {
		return nil, errs
	}
	for _, o := range objs {
		if opts.clusterName != "" {
			setAnnotation(o.Unstructured, annClusterName, opts.clusterName)
		}
		setAnnotation(o.Unstructured, annSourcePath, path.Join(opts.policyDir, o.rel))
		if opts.hierarchy {
			hydrateHNC(o)
		}
		if gkOf(o.Unstructured) == gkNamespace && specialNamespaces[o.GetName()] {
			setAnnotation(o.Unstructured, annLifecycleDeletion, preventDeletion)
		}
	}
	return objs, nil
}

// --- scoping (fileobjects.Raw.Scoped, util/discovery) ---

type scoper map[schema.GroupKind]scopeType

// buildScoper is discovery.ScoperBuilder: built-in kinds, the API server's resources, then declared CRDs on top.
func buildScoper(objs []fileObject, dc discovery.DiscoveryInterface) (scoper, MultiError) {
	s := scoper{}
	for gk, st := range builtinScopes {
		s[gk] = st
	}
	need := false
	for _, o := range objs {
		if _, ok := s[gkOf(o.Unstructured)]; !ok {
			need = true
			break
		}
	}
	if need && dc != nil {
		_, lists, err := dc.ServerGroupsAndResources()
		if err != nil {
			var gdf *discovery.ErrGroupDiscoveryFailed
			if errors.As(err, &gdf) {
				for _, subErr := range gdf.Groups {
					if !apierrors.IsNotFound(subErr) {
						return nil, MultiError{apiServerError(err, "API discovery failed")}
					}
				}
			} else {
				return nil, MultiError{apiServerError(err, "API discovery failed")}
			}
		}
		for _, list := range lists {
			gv, err := schema.ParseGroupVersion(list.GroupVersion)
			if err != nil {
				continue
			}
			for _, r := range list.APIResources {
				if strings.Contains(r.Name, "/") {
					continue
				}
				st := clusterScope
				if r.Namespaced {
					st = namespaceScope
				}
				s[schema.GroupKind{Group: gv.Group, Kind: r.Kind}] = st
			}
		}
	}
	for _, o := range objs {
		if gkOf(o.Unstructured) != gkCRD {
			continue
		}
		group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
		scope, _, _ := unstructured.NestedString(o.Object, "spec", "scope")
		versions, _, _ := unstructured.NestedSlice(o.Object, "spec", "versions")
		served := false
		for _, v := range versions {
			if m, ok := v.(map[string]interface{}); ok && m["served"] == true {
				served = true
			}
		}
		gk := schema.GroupKind{Group: group, Kind: kind}
		switch {
		case !served:
			s[gk] = unknownScope
		case scope == "Cluster":
			s[gk] = clusterScope
		default:
			s[gk] = namespaceScope
		}
	}
	return s, nil
}

func unknownObjectKindError(o *unstructured.Unstructured) *Error {
	gk := gkOf(o)
	return newBuilder(codeUnknownKind).sprintf("No CustomResourceDefinition is defined for the type %q in the cluster.\n"+
		"Resource types that are not native Kubernetes objects must have a CustomResourceDefinition.\n\n"+
		"Config Sync will retry until a CustomResourceDefinition is defined for the type %q in the cluster.", gk, gk).withResources(o)
}

type scopedObjects struct {
	cluster, namespace, unknown []fileObject
}

func (s *scopedObjects) objects() []fileObject {
	out := append([]fileObject{}, s.cluster...)
	out = append(out, s.unknown...)
	return append(out, s.namespace...)
}

func scopeObjects(objs []fileObject, dc discovery.DiscoveryInterface) (*scopedObjects, MultiError) {
	sc, errs := buildScoper(objs, dc)
	if errs != nil {
		return nil, errs
	}
	out := &scopedObjects{}
	for _, o := range objs {
		switch st := sc[gkOf(o.Unstructured)]; st {
		case clusterScope:
			out.cluster = append(out.cluster, o)
		case namespaceScope:
			out.namespace = append(out.namespace, o)
		default:
			errs = append(errs, unknownObjectKindError(o.Unstructured))
			out.unknown = append(out.unknown, o)
		}
	}
	return out, errs
}

// --- scoped validation and hydration (pkg/validate/scoped) ---

func validateScoped(s *scopedObjects, opts parseOptions) MultiError {
	var errs MultiError
	for _, o := range s.cluster {
		if !opts.isRoot() {
			errs = append(errs, newBuilder(codeBadScope).sprintf("Resources in namespace Repos must be Namespace-scoped type, but objects of type %v are Cluster-scoped. Move %s to the Root repo.",
				o.GroupVersionKind(), o.GetName()).withResources(o.Unstructured))
			continue
		}
		if o.GetNamespace() != "" {
			errs = append(errs, newBuilder(codeClusterScopedNs).sprint("cluster-scoped resources MUST NOT declare metadata.namespace").withResources(o.Unstructured))
			continue
		}
		if _, has := o.GetAnnotations()[annNamespaceSelector]; has {
			errs = append(errs, newBuilder(codeIllegalSelectorAnno).sprintf("Cluster-scoped objects may not be namespace-selected, and so MUST NOT declare the annotation '%s'. "+
				"To fix, remove `metadata.annotations.%s` from:", annNamespaceSelector, annNamespaceSelector).withResources(o.Unstructured))
		}
	}
	for _, o := range s.namespace {
		if _, has := o.GetAnnotations()[annNamespaceSelector]; has && o.GetNamespace() != "" {
			errs = append(errs, newBuilder(codeNsAndSelector).sprintf("namespace-scoped resources MUST NOT declare both metadata.namespace and "+
				"metadata.annotations.%s", annNamespaceSelector).withResources(o.Unstructured))
		}
	}
	return errs
}

// hydrateNamespaceSelectors is hydrate.NamespaceSelectors (static mode): objects with a namespace-selector are copied
// into each declared Namespace the selector matches; others without a namespace get "default" (root) or the
// RepoSync's namespace. NamespaceSelectors are dropped and Namespaces go first among cluster-scoped objects.
func hydrateNamespaceSelectors(s *scopedObjects, opts parseOptions) MultiError {
	var namespaces, others []fileObject
	selectors := map[string]labels.Selector{}
	var errs MultiError
	for _, o := range s.cluster {
		switch gkOf(o.Unstructured) {
		case gkNamespace:
			namespaces = append(namespaces, o)
		case gkNamespaceSelector:
			var ls metav1.LabelSelector
			raw, _, _ := unstructured.NestedMap(o.Object, "spec", "selector")
			if raw != nil {
				if err := runtimeConvert(raw, &ls); err != nil {
					errs = append(errs, newBuilder("1014").sprintf("%s has validation errors that must be corrected", o.GetKind()).wrap(err).withResources(o.Unstructured))
					continue
				}
			}
			sel, err := metav1.LabelSelectorAsSelector(&ls)
			if err != nil {
				errs = append(errs, newBuilder("1014").sprintf("%s has validation errors that must be corrected", o.GetKind()).wrap(err).withResources(o.Unstructured))
				continue
			}
			if sel.Empty() {
				errs = append(errs, newBuilder("1014").sprintf("%ss MUST define `spec.selector`", o.GetKind()).withResources(o.Unstructured))
				continue
			}
			selectors[o.GetName()] = sel
		default:
			others = append(others, o)
		}
	}
	if errs != nil {
		return errs
	}
	selected := map[string][]string{}
	for name, sel := range selectors {
		for _, ns := range namespaces {
			if sel.Matches(labels.Set(ns.GetLabels())) {
				selected[name] = append(selected[name], ns.GetName())
			}
		}
	}
	s.cluster = append(namespaces, others...)
	var result []fileObject
	for _, o := range s.namespace {
		if selName, has := o.GetAnnotations()[annNamespaceSelector]; has {
			nss, known := selected[selName]
			if _, exists := selectors[selName]; !exists && !known {
				errs = append(errs, newBuilder("1013").sprintf("Config %q MUST refer to an existing NamespaceSelector, but has annotation \"%s=%s\" which maps to no declared NamespaceSelector",
					o.GetName(), annNamespaceSelector, selName).withResources(o.Unstructured))
				continue
			}
			for _, ns := range nss {
				cp := fileObject{Unstructured: o.DeepCopy(), rel: o.rel}
				cp.SetNamespace(ns)
				result = append(result, cp)
			}
			continue
		}
		if o.GetNamespace() == "" {
			if opts.isRoot() {
				o.SetNamespace("default")
			} else {
				o.SetNamespace(opts.scope)
			}
		}
		result = append(result, o)
	}
	if errs != nil {
		return errs
	}
	s.namespace = result
	for _, o := range s.unknown {
		setAnnotation(o.Unstructured, annUnknownScope, "true")
	}
	return nil
}

// --- final validation (pkg/validate/final) ---

func validateFinal(objs []fileObject) MultiError {
	var errs MultiError
	type gknn struct{ group, kind, namespace, name string }
	dups := map[gknn][]*unstructured.Unstructured{}
	var order []gknn
	for _, o := range objs {
		k := gknn{o.GroupVersionKind().Group, o.GetKind(), o.GetNamespace(), o.GetName()}
		if _, seen := dups[k]; !seen {
			order = append(order, k)
		}
		dups[k] = append(dups[k], o.Unstructured)
	}
	for _, k := range order {
		rs := dups[k]
		if len(rs) < 2 {
			continue
		}
		gk := schema.GroupKind{Group: k.group, Kind: k.kind}
		switch {
		case gk == gkNamespace:
			errs = append(errs, newBuilder(codeNameCollision).sprintf("Namespaces MUST have unique names. Found %d Namespaces named %q. Rename or merge the Namespaces to fix:",
				len(rs), k.name).withResources(rs...))
		case k.namespace == "":
			errs = append(errs, newBuilder(codeNameCollision).sprintf("Cluster-scoped configs of the same Group and Kind MUST have unique names. "+
				"Found %d configs of GroupKind %q named %q. Rename or delete the duplicates to fix:", len(rs), gk.String(), k.name).withResources(rs...))
		default:
			errs = append(errs, newBuilder(codeNameCollision).sprintf("Namespace-scoped configs of the same Group and Kind MUST have unique names if they are in the same Namespace. "+
				"Found %d configs of GroupKind %q in Namespace %q named %q. Rename or delete the duplicates to fix:", len(rs), gk.String(), k.namespace, k.name).withResources(rs...))
		}
	}
	unmanaged := map[string][]*unstructured.Unstructured{}
	var unmanagedOrder []string
	for _, o := range objs {
		if o.GroupVersionKind() == (schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}) && o.GetAnnotations()[annManaged] == managementDisabled {
			if _, seen := unmanaged[o.GetName()]; !seen {
				unmanagedOrder = append(unmanagedOrder, o.GetName())
			}
			unmanaged[o.GetName()] = []*unstructured.Unstructured{}
		}
	}
	for _, o := range objs {
		ns := o.GetNamespace()
		if ns == "" || o.GetAnnotations()[annManaged] == managementDisabled {
			continue
		}
		if rs, in := unmanaged[ns]; in {
			unmanaged[ns] = append(rs, o.Unstructured)
		}
	}
	for _, ns := range unmanagedOrder {
		if rs := unmanaged[ns]; len(rs) > 0 {
			errs = append(errs, newBuilder(codeManagedInUnmanagedNs).sprintf("Managed resources must not be declared in unmanaged Namespaces. Namespace %q is declared unmanaged but contains managed resources. Either remove the managed: disabled annotation from Namespace %q or declare its resources as unmanaged by adding configmanagement.gke.io/managed:disabled annotation.", ns, ns).
				withResources(rs...))
		}
	}
	return errs
}

// --- the whole parse (pkg/parse/root_sync_parser.go ParseSource, repo_sync_parser.go) ---

// parseSource reads, validates and hydrates the files of one commit. The returned errors may be non-blocking
// (unknown kinds) with objects still returned.
func parseSource(ctx context.Context, syncPath string, files []string, opts parseOptions) ([]fileObject, MultiError) {
	if opts.hierarchy {
		files = filterHierarchyFiles(syncPath, files)
	}
	objs, errs := readFiles(syncPath, files)
	if errs != nil {
		return nil, errs
	}
	var nonBlocking MultiError
	if errs := rawValidate(objs, opts); errs != nil {
		if hasBlockingErrors(errs) {
			return nil, errs
		}
		nonBlocking = append(nonBlocking, errs...)
	}
	objs, errs = rawHydrate(objs, opts)
	if errs != nil {
		if hasBlockingErrors(errs) {
			return nil, append(nonBlocking, errs...)
		}
		nonBlocking = append(nonBlocking, errs...)
	}
	scoped, scopeErrs := scopeObjects(objs, opts.discovery)
	if hasBlockingErrors(scopeErrs) {
		return nil, append(nonBlocking, scopeErrs...)
	}
	nonBlocking = append(nonBlocking, scopeErrs...)

	var final []fileObject
	if opts.hierarchy {
		var errs MultiError
		final, errs = hierarchyFinish(scoped)
		if errs != nil {
			return nil, append(nonBlocking, errs...)
		}
	} else {
		if errs := validateScoped(scoped, opts); errs != nil {
			return nil, append(nonBlocking, errs...)
		}
		if errs := hydrateNamespaceSelectors(scoped, opts); errs != nil {
			return nil, append(nonBlocking, errs...)
		}
		final = scoped.objects()
	}
	if errs := validateFinal(final); errs != nil {
		return nil, append(nonBlocking, errs...)
	}
	// Visitors: implicit Namespaces (unstructured root, namespaceStrategy implicit), the RepoSync's namespace.
	if !opts.hierarchy && opts.isRoot() && opts.implicitNS {
		var errs MultiError
		final, errs = addImplicitNamespaces(ctx, final, opts)
		if errs != nil {
			return nil, append(nonBlocking, errs...)
		}
	}
	if !opts.isRoot() {
		var errs MultiError
		for _, o := range final {
			switch o.GetNamespace() {
			case opts.scope:
			case "":
				o.SetNamespace(opts.scope)
			default:
				errs = append(errs, newBuilder(codeBadScope).sprintf("Resources in the %q repo must either omit metadata.namespace or declare metadata.namespace=%q",
					opts.scope, opts.scope).withResources(o.Unstructured))
			}
		}
		if errs != nil {
			return nil, append(nonBlocking, errs...)
		}
	}
	if len(nonBlocking) == 0 {
		nonBlocking = nil
	}
	return final, nonBlocking
}

// addImplicitNamespaces is rootSyncParser.addImplicitNamespaces.
func addImplicitNamespaces(ctx context.Context, objs []fileObject, opts parseOptions) ([]fileObject, MultiError) {
	var errs MultiError
	declared := map[string]bool{}
	var order []string
	for _, o := range objs {
		if gkOf(o.Unstructured) == gkNamespace {
			if _, seen := declared[o.GetName()]; !seen {
				order = append(order, o.GetName())
			}
			declared[o.GetName()] = true
		} else if ns := o.GetNamespace(); ns != "" {
			if _, seen := declared[ns]; !seen {
				order = append(order, ns)
				declared[ns] = false
			}
		}
	}
	for _, ns := range order {
		if declared[ns] || ns == controllerNamespace {
			continue
		}
		if opts.getNamespace != nil {
			existing, err := opts.getNamespace(ctx, ns)
			if err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, undocumented(fmt.Errorf("unable to check the existence of the implicit namespace %q: %w", ns, err)))
				continue
			}
			if err == nil && !(existing.GetAnnotations()[annManaged] == managementEnabled &&
				existing.GetAnnotations()[annManager] == resourceManager(opts.scope, opts.syncName)) {
				continue
			}
		}
		u := &unstructured.Unstructured{Object: map[string]interface{}{}}
		u.SetAPIVersion("v1")
		u.SetKind("Namespace")
		u.SetName(ns)
		u.SetAnnotations(map[string]string{annLifecycleDeletion: preventDeletion})
		objs = append(objs, fileObject{Unstructured: u, rel: "."})
	}
	return objs, errs
}
