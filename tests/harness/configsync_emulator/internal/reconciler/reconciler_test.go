package reconciler

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	fakediscovery "k8s.io/client-go/discovery/fake"
	clienttesting "k8s.io/client-go/testing"
)

const (
	commit06 = "805962adcba39861aa5711d099a59a5abddfa7ba2a056b411f301a9edae0db16"
	commit07 = "65e3f19a3d5dd02ee0aa11d83d1820f8f81396925802efcc866fb296bd944c6e"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// withRepoRoot makes a local repo root whose paths are reported under /repo, as in the Pod.
func withRepoRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	old := displayPaths
	displayPaths = newPathMapper(root)
	t.Cleanup(func() { displayPaths = old })
	return root
}

func cseJSON(t *testing.T, e *Error) string {
	t.Helper()
	b, err := json.Marshal(e.cse())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// scenario-06: a file that is not YAML is KNV2001 with the /repo path of the file and errorResources.
func TestInvalidYAMLIsKNV2001WithRepoPath(t *testing.T) {
	root := withRepoRoot(t)
	dir := filepath.Join(root, "source", commit06)
	writeFiles(t, dir, map[string]string{
		"good.yaml":   "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: badyaml-good\n",
		"broken.yaml": "apiVersion: v1\nkind: [Namespace\nmetadata:\n  name: broken\n",
	})
	files, err := listFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	objs, errs := readFiles(dir, files)
	if objs != nil || len(errs) != 1 {
		t.Fatalf("want one error and no objects, got %v / %v", objs, errs)
	}
	path := "/repo/source/" + commit06 + "/broken.yaml"
	want := `{"code":"2001","errorMessage":"KNV2001: yaml: line 3: did not find expected ',' or ']'\n\npath: ` + path +
		`\n\nFor more information, see https://g.co/cloud/acm-errors#knv2001","errorResources":[{"sourcePath":"` + path +
		`","gvk":{"group":"","version":"","kind":""}}]}`
	if got := cseJSON(t, errs[0]); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// scenario-07: an apply the server refuses is KNV2009 with the declared object's description.
func TestApplyErrorIsKNV2009WithResource(t *testing.T) {
	obj := &unstructured.Unstructured{Object: map[string]interface{}{}}
	obj.SetGroupVersionKind(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"})
	obj.SetNamespace("unknown-field")
	obj.SetName("web")
	setAnnotation(obj, annSourcePath, "deploy.yaml")
	serverErr := errors.New(`failed to create typed patch object (unknown-field/web; apps/v1, Kind=Deployment): .spec.template.spec.containers[name="web"].notAField: field not declared in schema`)
	e := applyFailedError(serverErr, refOf(obj), obj)
	want := `{"code":"2009","errorMessage":"KNV2009: failed to apply Deployment.apps, unknown-field/web: failed to create typed patch object (unknown-field/web; apps/v1, Kind=Deployment): .spec.template.spec.containers[name=\"web\"].notAField: field not declared in schema\n\nsource: deploy.yaml\nnamespace: unknown-field\nmetadata.name: web\ngroup: apps\nversion: v1\nkind: Deployment\n\nFor more information, see https://g.co/cloud/acm-errors#knv2009","errorResources":[{"sourcePath":"deploy.yaml","name":"web","namespace":"unknown-field","gvk":{"group":"apps","version":"v1","kind":"Deployment"}}]}`
	if got := cseJSON(t, e); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// scenario-10: a forbidden list of the status watcher is KNV2009 "polling for status failed".
func TestPollingErrorWording(t *testing.T) {
	forbidden := errors.New(`configmaps is forbidden: User "system:serviceaccount:config-management-system:ns-reconciler-team-a-team-sync-9" cannot list resource "configmaps" in API group "" in the namespace "team-a"`)
	e := applierError(pollingListError(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, forbidden))
	want := "KNV2009: polling for status failed: failed to list /v1, Kind=ConfigMap: " + forbidden.Error() +
		"\n\nFor more information, see https://g.co/cloud/acm-errors#knv2009"
	if e.Error() != want {
		t.Errorf("got  %q\nwant %q", e.Error(), want)
	}
	if c := e.cse(); c.Resources != nil {
		t.Errorf("no errorResources expected: %+v", c.Resources)
	}
}

// scenario-03: oci-sync's error file becomes KNV2004.
func TestSourceErrorFromOciSyncErrorFile(t *testing.T) {
	root := withRepoRoot(t)
	content := `{"Msg":"unexpected error fetching package, will retry","Err":"failed to pull image 127.0.0.1:49351/demo/bundle:does-not-exist: GET http://127.0.0.1:49351/v2/demo/bundle/manifests/does-not-exist: MANIFEST_UNKNOWN: manifest unknown; map[Tag:does-not-exist]","Args":{}}`
	writeFiles(t, filepath.Join(root, "source"), map[string]string{"error.json": content})
	_, _, err := sourceCommitAndSyncPath(filepath.Join(root, "source", "rev"), ".", "root-reconciler-missing-tag")
	if err == nil {
		t.Fatal("want an error")
	}
	e := sourceError(err)
	want := "KNV2004: error in the oci-sync container: " + content + "\n\nFor more information, see https://g.co/cloud/acm-errors#knv2004"
	if e.Error() != want {
		t.Errorf("got  %q\nwant %q", e.Error(), want)
	}
	// An empty file names the file and the container.
	writeFiles(t, filepath.Join(root, "source"), map[string]string{"error.json": ""})
	_, _, err = sourceCommitAndSyncPath(filepath.Join(root, "source", "rev"), ".", "root-reconciler")
	if got := displayPaths.display(err.Error()); got != "/repo/source/error.json is empty. Please check oci-sync logs for more info: kubectl logs -n config-management-system -l configsync.gke.io/reconciler -c root-reconciler" {
		t.Errorf("empty error file: %q", got)
	}
}

func TestSourceCommitIsTheRevDirectoryName(t *testing.T) {
	root := withRepoRoot(t)
	dir := filepath.Join(root, "source", commit07)
	writeFiles(t, dir, map[string]string{"configs/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n"})
	if err := os.Symlink(dir, filepath.Join(root, "source", "rev")); err != nil {
		t.Fatal(err)
	}
	commit, syncPath, err := sourceCommitAndSyncPath(filepath.Join(root, "source", "rev"), "configs", "r")
	if err != nil || commit != commit07 || displayPaths.display(syncPath) != "/repo/source/"+commit07+"/configs" {
		t.Fatalf("got %q %q %v", commit, syncPath, err)
	}
	_, _, err = sourceCommitAndSyncPath(filepath.Join(root, "source", "rev"), "missing", "r")
	want := `failed to evaluate the config directory "/repo/source/` + commit07 + `/missing": lstat /repo/source/` + commit07 + `/missing: no such file or directory`
	if err == nil || displayPaths.display(err.Error()) != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

// scenario-01: the labels and annotations of an applied object.
func TestConfigSyncMetadata(t *testing.T) {
	if got := applySetID("RootSync", "root-sync", "config-management-system"); got != "applyset-e22zDPwKdkFqCzUzScEvOv2nZZ55DLNRI-wrMTICH94-v1" {
		t.Errorf("root applyset id %s", got)
	}
	if got := applySetID("RepoSync", "team-sync", "team-a"); got != "applyset-gzHKTlHaLKbf-8C9O3DXX5d-HYp2qd_U7ldJKQRCdas-v1" {
		t.Errorf("repo applyset id %s", got)
	}
	for _, c := range [][3]string{{":root", "root-sync", ":root"}, {":root", "other", ":root_other"}, {"team-a", "team-sync", "team-a_team-sync"}, {"team-a", "repo-sync", "team-a"}} {
		if got := resourceManager(c[0], c[1]); got != c[2] {
			t.Errorf("resourceManager(%s,%s)=%s want %s", c[0], c[1], got, c[2])
		}
	}
	cm := &unstructured.Unstructured{Object: map[string]interface{}{}}
	cm.SetAPIVersion("v1")
	cm.SetKind("ConfigMap")
	cm.SetNamespace("demo")
	cm.SetName("demo-config")
	cm.SetLabels(map[string]string{lblDeclaredVersion: "v1"})
	cm.SetAnnotations(map[string]string{annSourcePath: "cm.yaml"})
	csMetadata{applySetID: applySetID("RootSync", "root-sync", controllerNamespace), gitContext: gitContext("127.0.0.1:49351/demo/bundle:v1", "", ""),
		manager: resourceManager(rootScope, "root-sync"), sourceHash: "633f16a6", inventoryID: inventoryID("root-sync", controllerNamespace)}.set(cm)
	wantLabels := map[string]string{
		"app.kubernetes.io/managed-by":       "configmanagement.gke.io",
		"applyset.kubernetes.io/part-of":     "applyset-e22zDPwKdkFqCzUzScEvOv2nZZ55DLNRI-wrMTICH94-v1",
		"configsync.gke.io/declared-version": "v1",
	}
	wantAnnotations := map[string]string{
		"config.k8s.io/owning-inventory":      "config-management-system_root-sync",
		"configmanagement.gke.io/managed":     "enabled",
		"configmanagement.gke.io/source-path": "cm.yaml",
		"configmanagement.gke.io/token":       "633f16a6",
		"configsync.gke.io/git-context":       `{"repo":"127.0.0.1:49351/demo/bundle:v1"}`,
		"configsync.gke.io/manager":           ":root",
		"configsync.gke.io/resource-id":       "_configmap_demo_demo-config",
	}
	if !reflect.DeepEqual(cm.GetLabels(), wantLabels) {
		t.Errorf("labels %v", cm.GetLabels())
	}
	if !reflect.DeepEqual(cm.GetAnnotations(), wantAnnotations) {
		t.Errorf("annotations %v", cm.GetAnnotations())
	}
	patch := removeConfigSyncMetadata(cm, applySetID("RootSync", "root-sync", controllerNamespace))
	meta := patch["metadata"].(map[string]interface{})
	if len(meta["annotations"].(map[string]interface{})) != 7 || len(meta["labels"].(map[string]interface{})) != 3 {
		t.Errorf("unmanage patch %v", patch)
	}
}

func normalizedStatus(t *testing.T, st *rsyncStatus) string {
	t.Helper()
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(b), `"`+metav1.NewTime(time.Unix(1700000000, 0)).UTC().Format(time.RFC3339)+`"`, `"T"`)
}

// The status shapes of scenario-03 (source error), -07 (sync error, "Sync Completed" without lastSyncedCommit) and
// -01 (synced).
func TestStatusShapes(t *testing.T) {
	ts := metav1.NewTime(time.Unix(1700000000, 0))
	spec := &sourceSpec{Image: "127.0.0.1:49351/demo/bundle:does-not-exist", Dir: "."}
	base := func() *rsyncStatus {
		return &rsyncStatus{ObservedGeneration: 1, Reconciler: "r", Conditions: []condition{{Type: "Reconciling", Status: "False", LastUpdateTime: ts, LastTransitionTime: ts}}}
	}

	st := base()
	mutateSourceStatus(st, &stageState{spec: spec, errs: MultiError{sourceError(errors.New("error in the oci-sync container: x"))}, lastUpdate: ts})
	want := `{"observedGeneration":1,"reconciler":"r","source":{"ociStatus":{"image":"127.0.0.1:49351/demo/bundle:does-not-exist","dir":"."},"lastUpdate":"T","errors":[{"code":"2004","errorMessage":"KNV2004: error in the oci-sync container: x\n\nFor more information, see https://g.co/cloud/acm-errors#knv2004"}],"errorSummary":{"totalCount":1,"errorCountAfterTruncation":1}},"rendering":{"lastUpdate":null},"sync":{"lastUpdate":null},"conditions":[{"type":"Reconciling","status":"False","lastUpdateTime":"T","lastTransitionTime":"T"},{"type":"Syncing","status":"False","lastUpdateTime":"T","lastTransitionTime":"T","reason":"Source","message":"Source","errorSourceRefs":["status.source.errors"],"errorSummary":{"totalCount":1,"errorCountAfterTruncation":1}}]}`
	if got := normalizedStatus(t, st); got != want {
		t.Errorf("source error:\ngot  %s\nwant %s", got, want)
	}

	spec = &sourceSpec{Image: "img", Dir: "."}
	st = base()
	mutateSourceStatus(st, &stageState{spec: spec, commit: commit07, lastUpdate: ts})
	mutateRenderingStatus(st, &stageState{spec: spec, commit: commit07, message: renderingSkipped, lastUpdate: ts})
	if c := findCondition(st, condSyncing); c.Reason != "Rendering" || c.Message != "Rendering skipped" || c.Status != "True" {
		t.Errorf("rendering condition %+v", c)
	}
	mutateSourceStatus(st, &stageState{spec: spec, commit: commit07, lastUpdate: ts})
	failed := applierError(errors.New("failed to apply X"))
	mutateSyncStatus(st, &stageState{spec: spec, commit: commit07, errs: MultiError{failed}, lastUpdate: ts})
	c := findCondition(st, condSyncing)
	if c.Status != "False" || c.Reason != "Sync" || c.Message != "Sync Completed" || !reflect.DeepEqual(c.ErrorSourceRefs, []string{errSyncRef}) ||
		c.ErrorSummary.TotalCount != 1 || st.LastSyncedCommit != "" || c.Commit != commit07 {
		t.Errorf("sync error condition %+v, lastSyncedCommit %q", c, st.LastSyncedCommit)
	}
	mutateSyncStatus(st, &stageState{spec: spec, commit: commit07, lastUpdate: ts})
	if c := findCondition(st, condSyncing); c.ErrorSourceRefs != nil || c.ErrorSummary.TotalCount != 0 || st.LastSyncedCommit != commit07 {
		t.Errorf("synced condition %+v, lastSyncedCommit %q", c, st.LastSyncedCommit)
	}
	b, _ := json.Marshal(st.Sync)
	if string(b) != `{"ociStatus":{"image":"img","dir":"."},"commit":"`+commit07+`","lastUpdate":"`+ts.UTC().Format(time.RFC3339)+`","errorSummary":{}}` {
		t.Errorf("sync stage %s", b)
	}
}

func TestStatusEqualityIgnoresTimestampValues(t *testing.T) {
	a := &rsyncStatus{Source: stageStatus{LastUpdate: metav1.NewTime(time.Unix(1, 0))}}
	b := &rsyncStatus{Source: stageStatus{LastUpdate: metav1.NewTime(time.Unix(2, 0))}}
	if !statusEqualIgnoringTimestamps(a, b) {
		t.Error("timestamps differ only: want equal")
	}
	b.Source.LastUpdate = metav1.Time{}
	if statusEqualIgnoringTimestamps(a, b) {
		t.Error("set vs unset timestamp: want different")
	}
}

func fakeDiscovery() *fakediscovery.FakeDiscovery {
	return &fakediscovery.FakeDiscovery{Fake: &clienttesting.Fake{Resources: []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "namespaces", Kind: "Namespace"}, {Name: "configmaps", Kind: "ConfigMap", Namespaced: true},
		}},
		{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{{Name: "deployments", Kind: "Deployment", Namespaced: true}}},
		{GroupVersion: "rbac.authorization.k8s.io/v1", APIResources: []metav1.APIResource{{Name: "clusterroles", Kind: "ClusterRole"}}},
	}}}
}

func parseDir(t *testing.T, files map[string]string, opts parseOptions) ([]fileObject, MultiError) {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, files)
	list, err := listFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	opts.discovery = fakeDiscovery()
	if opts.policyDir == "" {
		opts.policyDir = "."
	}
	real, _ := filepath.EvalSymlinks(dir)
	return parseSource(context.Background(), real, list, opts)
}

func TestUnstructuredRootParsing(t *testing.T) {
	objs, errs := parseDir(t, map[string]string{
		"cm.yaml":   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo-config\n  namespace: demo\ndata:\n  color: blue\n",
		"ns.yaml":   "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n",
		"nons.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n---\n# comment only\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: implicit\n  namespace: other\n",
		"README.md": "not parsed",
	}, parseOptions{scope: rootScope, syncName: "root-sync", implicitNS: true,
		getNamespace: func(_ context.Context, name string) (*unstructured.Unstructured, error) {
			if name == "default" { // exists and is not managed: not made implicit
				return &unstructured.Unstructured{Object: map[string]interface{}{}}, nil
			}
			return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, name)
		}})
	if errs != nil {
		t.Fatal(errs)
	}
	var got []string
	for _, o := range objs {
		got = append(got, o.GetKind()+"/"+o.GetNamespace()+"/"+o.GetName()+"@"+o.GetAnnotations()[annSourcePath])
	}
	want := []string{"Namespace//demo@ns.yaml", "ConfigMap/demo/demo-config@cm.yaml", "ConfigMap/default/x@nons.yaml",
		"ConfigMap/other/implicit@nons.yaml", "Namespace//other@"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	if objs[4].GetAnnotations()[annLifecycleDeletion] != "detach" {
		t.Errorf("implicit namespace annotations %v", objs[4].GetAnnotations())
	}
	if objs[0].GetLabels()[lblDeclaredVersion] != "v1" {
		t.Errorf("declared-version label missing: %v", objs[0].GetLabels())
	}
}

func TestRepoSyncScope(t *testing.T) {
	objs, errs := parseDir(t, map[string]string{
		"cm.yaml":    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: team-settings\n",
		"other.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: elsewhere\n  namespace: other\n",
	}, parseOptions{scope: "team-a", syncName: "team-sync"})
	if objs != nil || len(errs) != 1 {
		t.Fatalf("want one error, got %v %v", objs, errs)
	}
	want := "KNV1058: Resources in the \"team-a\" repo must either omit metadata.namespace or declare metadata.namespace=\"team-a\"\n\n" +
		"source: other.yaml\nnamespace: other\nmetadata.name: elsewhere\ngroup:\nversion: v1\nkind: ConfigMap\n\n" +
		"For more information, see https://g.co/cloud/acm-errors#knv1058"
	if errs[0].Error() != want {
		t.Errorf("got  %q\nwant %q", errs[0].Error(), want)
	}
	objs, errs = parseDir(t, map[string]string{
		"cr.yaml": "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: r\n",
	}, parseOptions{scope: "team-a", syncName: "team-sync"})
	if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "KNV1058: Resources in namespace Repos must be Namespace-scoped type, but objects of type rbac.authorization.k8s.io/v1, Kind=ClusterRole are Cluster-scoped. Move r to the Root repo.") {
		t.Errorf("cluster-scoped in a RepoSync: %v %v", objs, errs)
	}
}

func TestUnknownKindIsNonBlocking(t *testing.T) {
	objs, errs := parseDir(t, map[string]string{
		"a.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: demo\n",
		"b.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: demo\n",
	}, parseOptions{scope: rootScope, syncName: "root-sync"})
	if len(errs) != 1 || errs[0].Code != codeUnknownKind || hasBlockingErrors(errs) || len(objs) != 2 {
		t.Fatalf("got %v %v", objs, errs)
	}
	if objs[0].GetAnnotations()[annUnknownScope] != "true" {
		t.Errorf("unknown-scope annotation missing on %s", objs[0].GetName())
	}
}

func TestHierarchyParsing(t *testing.T) {
	objs, errs := parseDir(t, map[string]string{
		"system/repo.yaml":                 "apiVersion: configmanagement.gke.io/v1\nkind: Repo\nmetadata:\n  name: repo\nspec:\n  version: 1.0.0\n",
		"namespaces/hier-a/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: hier-a\n",
		"namespaces/hier-a/settings.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  tier: gold\n",
		"namespaces/shared.yaml":           "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n",
		"README.md":                        "ignored",
		"other/ignored.yaml":               "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ignored\n",
	}, parseOptions{scope: rootScope, syncName: "hier-sync", hierarchy: true})
	if errs != nil {
		t.Fatal(errs)
	}
	var got []string
	for _, o := range objs {
		got = append(got, o.GetKind()+"/"+o.GetNamespace()+"/"+o.GetName()+"@"+o.GetAnnotations()[annSourcePath])
	}
	want := []string{"ConfigMap/hier-a/settings@namespaces/hier-a/settings.yaml", "Namespace//hier-a@namespaces/hier-a/namespace.yaml",
		"ConfigMap/hier-a/shared@namespaces/shared.yaml"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	if objs[1].GetLabels()["hier-a.tree.hnc.x-k8s.io/depth"] != "0" || objs[1].GetAnnotations()[annHNCManagedBy] != managedByValue {
		t.Errorf("namespace metadata %v %v", objs[1].GetLabels(), objs[1].GetAnnotations())
	}

	_, errs = parseDir(t, map[string]string{
		"namespaces/hier-a/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: hier-a\n",
	}, parseOptions{scope: rootScope, syncName: "hier-sync", hierarchy: true})
	if len(errs) != 1 || errs[0].Error() != "KNV1017: The system/ directory must declare a Repo Resource.\n\npath: system/\n\nFor more information, see https://g.co/cloud/acm-errors#knv1017" {
		t.Errorf("missing Repo: %v", errs)
	}
	_, errs = parseDir(t, map[string]string{
		"system/repo.yaml":          "apiVersion: configmanagement.gke.io/v1\nkind: Repo\nmetadata:\n  name: repo\nspec:\n  version: 1.0.0\n",
		"namespaces/hier-a/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
	}, parseOptions{scope: rootScope, syncName: "hier-sync", hierarchy: true})
	if len(errs) != 1 || errs[0].Code != "1044" {
		t.Errorf("objects without a Namespace: %v", errs)
	}
}

func TestValidationErrors(t *testing.T) {
	_, errs := parseDir(t, map[string]string{
		"a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: demo\n  annotations:\n    configsync.gke.io/manager: x\n",
	}, parseOptions{scope: rootScope, syncName: "root-sync"})
	want := "KNV1010: Configs MUST NOT declare unsupported annotations starting with \"configmanagement.gke.io/\" or \"configsync.gke.io/\". " +
		"The config has invalid annotations: \"configsync.gke.io/manager\"\n\nnamespace: demo\nmetadata.name: a\ngroup:\nversion: v1\nkind: ConfigMap\n\n" +
		"For more information, see https://g.co/cloud/acm-errors#knv1010"
	if len(errs) != 1 || errs[0].Error() != want {
		t.Errorf("got %v\nwant %q", errs, want)
	}
	_, errs = parseDir(t, map[string]string{
		"a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: demo\n",
		"b.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: demo\n",
	}, parseOptions{scope: rootScope, syncName: "root-sync"})
	if len(errs) != 1 || errs[0].Code != codeNameCollision || len(errs[0].cse().Resources) != 2 {
		t.Errorf("duplicates: %v", errs)
	}
	_, errs = parseDir(t, map[string]string{"a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  namespace: demo\n"},
		parseOptions{scope: rootScope, syncName: "root-sync"})
	if len(errs) != 1 || errs[0].Code != codeResource || !strings.HasPrefix(errs[0].Body, `missing field "metadata.name"`) {
		t.Errorf("missing name: %v", errs)
	}
}

func TestApplyOrder(t *testing.T) {
	mk := func(group, version, kind, ns, name string, ann map[string]string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]interface{}{}}
		u.SetGroupVersionKind(schema.GroupVersionKind{Group: group, Version: version, Kind: kind})
		u.SetNamespace(ns)
		u.SetName(name)
		u.SetAnnotations(ann)
		return u
	}
	crd := mk("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "", "widgets.example.com", nil)
	crd.Object["spec"] = map[string]interface{}{"group": "example.com", "names": map[string]interface{}{"kind": "Widget"}}
	objs := []*unstructured.Unstructured{
		mk("", "v1", "ConfigMap", "demo", "c", nil),
		mk("apps", "v1", "Deployment", "demo", "d", map[string]string{annDependsOn: "/namespaces/demo/ConfigMap/c"}),
		mk("", "v1", "Namespace", "", "demo", nil),
		mk("example.com", "v1", "Widget", "", "w", nil),
		crd,
	}
	levels, _ := sortObjects(objs)
	var got []string
	for _, l := range levels {
		var names []string
		for _, r := range l {
			names = append(names, r.Kind)
		}
		got = append(got, strings.Join(names, ","))
	}
	want := []string{"Namespace,CustomResourceDefinition", "ConfigMap,Widget", "Deployment"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v want %v", got, want)
	}
	if s := refOf(objs[1]).String(); s != "demo_d_apps_Deployment" {
		t.Errorf("ObjMetadata string %s", s)
	}
}

func TestRetryBackoff(t *testing.T) {
	b := newRetryBackoff()
	for i, base := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		d := b.step()
		if d < base || d > base+base/10 {
			t.Errorf("step %d: %v", i, d)
		}
	}
	if b.steps != 9 {
		t.Errorf("steps left %d", b.steps)
	}
}

func TestPathMapper(t *testing.T) {
	m := newPathMapper("/tmp/x/pods/r/volumes/repo")
	if got := m.display("path: /tmp/x/pods/r/volumes/repo/source/abc/f.yaml"); got != "path: /repo/source/abc/f.yaml" {
		t.Errorf("got %s", got)
	}
	if got := newPathMapper("/repo").display("/repo/source"); got != "/repo/source" {
		t.Errorf("identity: %s", got)
	}
}

// A validating webhook that denies the image-to-sync annotation (HTTP 403) gives KNV2013; other refusals KNV2002.
func TestImageToSyncAnnotationDenial(t *testing.T) {
	denied := &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: 403, Reason: metav1.StatusReasonForbidden,
		Message: `admission webhook "verify.example.com" denied the request: image signature verification failed`}}
	e := apiServerErrorf(denied, "failed to patch %s annotation: %s", "RootSync", annImageToSync)
	want := "KNV2013: failed to patch RootSync annotation: configsync.gke.io/image-to-sync: Insufficient permission. To fix, make sure the reconciler has sufficient permissions.: " +
		denied.Error() + "\n\nFor more information, see https://g.co/cloud/acm-errors#knv2013"
	if e.Error() != want {
		t.Errorf("got  %q\nwant %q", e.Error(), want)
	}
	invalid := &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: 422, Reason: metav1.StatusReasonInvalid, Message: "denied"}}
	if got := apiServerErrorf(invalid, "failed to patch %s annotation: %s", "RepoSync", annImageToSync).Error(); got !=
		"KNV2002: failed to patch RepoSync annotation: configsync.gke.io/image-to-sync: APIServer error: denied\n\nFor more information, see https://g.co/cloud/acm-errors#knv2002" {
		t.Errorf("got %q", got)
	}
}
