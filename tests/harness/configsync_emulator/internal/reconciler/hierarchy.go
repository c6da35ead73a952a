package reconciler

// sourceFormat: hierarchy (pkg/importer/filesystem/filter.go, pkg/validate/raw/{validate,hydrate} directory, repo,
// object-namespace and HNC rules, pkg/validate/fileobjects/tree.go, pkg/importer/analyzer/transform/tree,
// pkg/validate/tree): files only under system/, cluster/, clusterregistry/ and namespaces/; the Repo in system/;
// cluster-scoped objects in cluster/; a directory of namespaces/ holding a Namespace object is that namespace and its
// objects land in it; objects of directories above (abstract namespaces) are copied into every namespace below.

import (
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

const (
	dirSystem          = "system"
	dirCluster         = "cluster"
	dirClusterRegistry = "clusterregistry"
	dirNamespaces      = "namespaces"
	hncDepthSuffix     = ".tree.hnc.x-k8s.io/depth"
)

var gvkNamespace = schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}

func filterHierarchyFiles(root string, files []string) []string {
	var out []string
	for _, f := range files {
		rel, err := filepath.Rel(root, f)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue
		}
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if len(parts) < 2 {
			continue
		}
		switch parts[0] {
		case dirSystem, dirCluster, dirClusterRegistry, dirNamespaces:
			out = append(out, f)
		}
	}
	return out
}

func (f fileObject) dir() string { return path.Dir(f.rel) }

// validateDirectory is raw/validate.Directory (with HNCLabels, which runs right after it).
func validateDirectory(o fileObject) *Error {
	if o.GroupVersionKind() == gvkNamespace {
		expected := path.Base(o.dir())
		if expected == dirNamespaces {
			return newBuilder(codeIllegalTopLevelNs).sprintf("%[2]ss MUST be declared in subdirectories of '%[1]s/'. Create a subdirectory for the following %[2]s configs:",
				dirNamespaces, "Namespace").withResources(o.Unstructured)
		}
		if o.GetName() != expected {
			return newBuilder(codeInvalidNsName).sprintf("A %[1]s MUST declare `metadata.name` that matches the name of its directory.\n\n"+
				"expected `metadata.name`: %[2]s", "Namespace", expected).withResources(o.Unstructured)
		}
	} else if o.GetNamespace() != "" {
		expected := path.Base(o.dir())
		if o.GetNamespace() != expected {
			return newBuilder(codeIllegalMetadataNs).sprintf("A config MUST either declare a `namespace` field exactly matching the directory "+
				"containing the config, %q, or leave the field blank:", expected).withResources(o.Unstructured)
		}
	}
	var depth []string
	for l := range o.GetLabels() {
		if strings.HasSuffix(l, hncDepthSuffix) {
			depth = append(depth, l)
		}
	}
	if depth != nil {
		sort.Strings(depth)
		quoted := make([]string, len(depth))
		for i, l := range depth {
			quoted[i] = strconv.Quote(l)
		}
		return newBuilder("1057").sprintf("Configs MUST NOT declare labels ending with %q. "+
			"The config has disallowed labels: %s", hncDepthSuffix, strings.Join(quoted, ", ")).withResources(o.Unstructured)
	}
	return nil
}

// validateRepo is raw/validate.Repo: exactly one Repo, of version 1.0.0 or 0.1.0.
func validateRepo(objs []fileObject) MultiError {
	var found []*unstructured.Unstructured
	for _, o := range objs {
		if gkOf(o.Unstructured) == gkRepo {
			found = append(found, o.Unstructured)
		}
	}
	switch {
	case len(found) == 0:
		return MultiError{newBuilder(codeMissingRepo).sprintf("The %s/ directory must declare a Repo Resource.", dirSystem).withPaths(dirSystem)}
	case len(found) > 1:
		return MultiError{newBuilder("2012").sprintf("Unsupported number of %s resource found: %d, want: 1.", gkRepo.String(), len(found)).withResources(found...)}
	}
	version, _, _ := unstructured.NestedString(found[0].Object, "spec", "version")
	if version != "1.0.0" && version != "0.1.0" {
		return MultiError{newBuilder(codeUnsupportedRepoVer).sprintf(`Unsupported Repo spec.version: %q. Must use version %q`, version, "1.0.0").withResources(found[0])}
	}
	return nil
}

// hydrateObjectNamespaces is raw/hydrate.ObjectNamespaces: objects of namespaces/.../<ns>/ without a namespace take
// <ns> when a Namespace <ns> is declared in that directory.
func hydrateObjectNamespaces(objs []fileObject) MultiError {
	namespaces := map[string]bool{}
	for _, o := range objs {
		if gkOf(o.Unstructured) == gkNamespace && o.split()[0] == dirNamespaces && o.GetName() == path.Base(o.dir()) {
			namespaces[o.GetName()] = true
		}
	}
	for _, o := range objs {
		if o.split()[0] != dirNamespaces {
			continue
		}
		gk := gkOf(o.Unstructured)
		if gk == gkNamespace || gk == gkNamespaceSelector {
			continue
		}
		if o.GetNamespace() == "" {
			if dir := path.Base(o.dir()); namespaces[dir] {
				o.SetNamespace(dir)
			}
		}
	}
	return nil
}

// hydrateHNC is raw/hydrate.HNCDepth: depth labels of each ancestor directory and the HNC managed-by annotation.
func hydrateHNC(o fileObject) {
	if o.GroupVersionKind() != gvkNamespace {
		return
	}
	p := o.split()
	if len(p) >= 3 {
		p = p[1 : len(p)-1]
		for i, ans := range p {
			setLabel(o.Unstructured, ans+hncDepthSuffix, strconv.Itoa(len(p)-i-1))
		}
	}
	if orig := o.GetAnnotations()[annHNCManagedBy]; orig != "" {
		setAnnotation(o.Unstructured, configSyncPrefix+"original-hnc-managed-by-value", orig)
	}
	setAnnotation(o.Unstructured, annHNCManagedBy, managedByValue)
}

func incorrectTopLevelDirError(o *unstructured.Unstructured, expected string) *Error {
	var msg string
	switch expected {
	case dirSystem:
		msg = "Repo and HierarchyConfig configs MUST be declared in `%s/`. To fix, move the %s to `%s/`."
	case dirClusterRegistry:
		msg = "Cluster and ClusterSelector configs MUST be declared in `%s/`. To fix, move the %s to `%s/`."
	case dirCluster:
		msg = "Cluster-scoped configs except Namespaces MUST be declared in `%s/`. To fix, move the %s to `%s/`."
	default:
		msg = "Namespace-scoped and Namespace configs MUST be declared in `%s/`. To fix, move the %s to `%s/`."
	}
	return newBuilder("1039").sprintf(msg, expected, o.GetKind(), expected).withResources(o)
}

var topLevelOverrides = map[schema.GroupKind]string{
	gkRepo: dirSystem, gkHierarchyConfig: dirSystem, gkNamespace: dirNamespaces, gkNamespaceSelector: dirNamespaces,
}

func topLevelDirectory(o fileObject, expected string) (string, *Error) {
	if override, ok := topLevelOverrides[gkOf(o.Unstructured)]; ok {
		expected = override
	}
	if o.split()[0] == expected {
		return expected, nil
	}
	return "", incorrectTopLevelDirError(o.Unstructured, expected)
}

type treeNode struct {
	rel       string
	namespace bool
	objects   []fileObject
	children  []*treeNode
}

func (n *treeNode) name() string { return path.Base(n.rel) }

func (n *treeNode) flatten() []fileObject {
	var out []fileObject
	if n.namespace {
		for _, o := range n.objects {
			if o.GroupVersionKind() != gvkNamespace {
				o.SetNamespace(n.name())
			}
			out = append(out, o)
		}
		return out
	}
	for _, o := range n.objects {
		if gkOf(o.Unstructured) == gkNamespaceSelector {
			out = append(out, o)
		}
	}
	for _, c := range n.children {
		out = append(out, c.flatten()...)
	}
	return out
}

// buildTree is tree.NewBuilder + VisitRoot: one node per directory holding objects (and their ancestors), children
// sorted by path, each directory's objects sorted by GroupVersionKind string then name.
func buildTree(objs []fileObject) *treeNode {
	byDir := map[string][]fileObject{}
	for _, o := range objs {
		byDir[o.dir()] = append(byDir[o.dir()], o)
	}
	nodes := map[string]*treeNode{}
	var root *treeNode
	for dir := range byDir {
		if nodes[dir] != nil {
			continue
		}
		cur := &treeNode{rel: dir}
		for curDir := dir; ; {
			nodes[curDir] = cur
			parentDir := path.Dir(curDir)
			if parentDir == "." || parentDir == "/" {
				root = cur
				break
			}
			if parent := nodes[parentDir]; parent != nil {
				parent.children = append(parent.children, cur)
				break
			}
			parent := &treeNode{rel: parentDir, children: []*treeNode{cur}}
			curDir, cur = parentDir, parent
		}
	}
	for dir, n := range nodes {
		sort.Slice(n.children, func(i, j int) bool { return n.children[i].rel < n.children[j].rel })
		list := byDir[dir]
		sort.SliceStable(list, func(i, j int) bool {
			gi, gj := list[i].GroupVersionKind().String(), list[j].GroupVersionKind().String()
			if gi != gj {
				return gi < gj
			}
			return list[i].GetName() < list[j].GetName()
		})
		for _, o := range list {
			if o.GroupVersionKind() == gvkNamespace {
				n.namespace = true
			}
		}
		n.objects = list
	}
	return root
}

func treePathError(code, msg string, nodes ...*treeNode) *Error {
	paths := make([]string, len(nodes))
	for i, n := range nodes {
		paths[i] = n.rel
	}
	return newBuilder(code).sprint(msg).withPaths(paths...)
}

// validateInheritance is tree/validate.Inheritance.
func validateInheritance(n *treeNode) (bool, MultiError) {
	syncable := false
	var namespaces []*unstructured.Unstructured
	for _, o := range n.objects {
		if o.GroupVersionKind() == gvkNamespace {
			namespaces = append(namespaces, o.Unstructured)
		} else if gkOf(o.Unstructured) != gkNamespaceSelector {
			syncable = true
		}
	}
	if len(namespaces) > 1 {
		return true, MultiError{newBuilder("2012").sprintf("Unsupported number of %s resource found: %d, want: 1.", "Namespace", len(namespaces)).withResources(namespaces...)}
	}
	if len(namespaces) == 1 {
		return true, nil
	}
	var errs MultiError
	found := false
	for _, c := range n.children {
		has, e := validateInheritance(c)
		found = found || has
		errs = append(errs, e...)
	}
	if syncable {
		if len(n.children) == 0 {
			errs = append(errs, treePathError("1044", "The directory \""+n.name()+"\" has configs, but is missing a Namespace "+
				"config. All bottom level subdirectories MUST have a Namespace config.", n))
		} else if !found {
			errs = append(errs, treePathError("1044", "The Abstract Namespace directory named \""+n.name()+"\" has resources and "+
				"subdirectories, but none of its subdirectories are Namespaces. An Abstract Namespace"+
				" MUST have at least one Namespace subdirectory.", n))
		}
	}
	return found, errs
}

// hydrateInheritance is tree/hydrate.Inheritance with the default mode (inherit) for every kind.
func hydrateInheritance(n *treeNode, inherited []fileObject) MultiError {
	var own []fileObject
	isNamespace := false
	for _, o := range n.objects {
		if o.GroupVersionKind() == gvkNamespace {
			isNamespace = true
		} else if gkOf(o.Unstructured) != gkNamespaceSelector {
			own = append(own, o)
		}
	}
	if isNamespace {
		var errs MultiError
		for _, c := range n.children {
			errs = append(errs, newBuilder("1003").sprintf("A %[1]s directory MUST NOT have subdirectories. "+
				"Restructure %[4]q so that it does not have subdirectory %[2]q:\n\n%[3]s",
				"Namespace", c.name(), "path: "+c.rel+"\nname: "+c.name(), n.name()).withPaths(c.rel, n.rel))
		}
		for _, o := range inherited {
			n.objects = append(n.objects, fileObject{Unstructured: o.DeepCopy(), rel: o.rel})
		}
		return errs
	}
	inherited = append(append([]fileObject{}, inherited...), own...)
	var errs MultiError
	for _, c := range n.children {
		errs = append(errs, hydrateInheritance(c, inherited)...)
	}
	return errs
}

// hierarchyFinish is the part of validate.Hierarchical after scoping: scoped checks, the tree, inheritance.
func hierarchyFinish(s *scopedObjects) ([]fileObject, MultiError) {
	var errs MultiError
	for _, o := range s.cluster {
		if o.GetNamespace() != "" {
			errs = append(errs, newBuilder(codeClusterScopedNs).sprint("cluster-scoped resources MUST NOT declare metadata.namespace").withResources(o.Unstructured))
		} else if _, has := o.GetAnnotations()[annNamespaceSelector]; has {
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
	for _, o := range s.unknown {
		setAnnotation(o.Unstructured, annUnknownScope, "true")
	}
	if errs != nil {
		return nil, errs
	}
	var cluster, nsObjs []fileObject
	add := func(o fileObject, dir string) {
		switch dir {
		case dirCluster:
			cluster = append(cluster, o)
		case dirNamespaces:
			if gkOf(o.Unstructured) != gkNamespaceSelector {
				nsObjs = append(nsObjs, o)
			}
		}
		// system/ objects (Repo, HierarchyConfig) configure the parser and are not applied.
	}
	for _, o := range s.cluster {
		dir, err := topLevelDirectory(o, dirCluster)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		add(o, dir)
	}
	for _, o := range s.unknown {
		add(o, o.split()[0])
	}
	for _, o := range s.namespace {
		if _, err := topLevelDirectory(o, dirNamespaces); err != nil {
			errs = append(errs, err)
		}
	}
	if errs != nil {
		return nil, errs
	}
	tree := buildTree(append(nsObjs, s.namespace...))
	if tree == nil {
		return cluster, nil
	}
	if _, e := validateInheritance(tree); e != nil {
		return nil, e
	}
	if e := hydrateInheritance(tree, nil); e != nil {
		return nil, e
	}
	return append(cluster, tree.flatten()...), nil
}
