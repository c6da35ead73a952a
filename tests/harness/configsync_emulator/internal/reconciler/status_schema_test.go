package reconciler

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"configsync.test/emulator/internal/crdschema"
)

// Every status shape the reconciler writes must be one the release CRDs keep whole: an unknown field would be pruned
// by the API server without a word, and the emulator would then test the collection against a status real Config
// Sync never shows.
func TestEveryStatusShapeFitsTheReleaseCRDs(t *testing.T) {
	ts := metav1.NewTime(time.Unix(1700000000, 0))
	spec := &sourceSpec{Image: "127.0.0.1:5000/demo/bundle:v1", Dir: "."}
	root := withRepoRoot(t)

	dir := filepath.Join(root, "source", commit06)
	writeFiles(t, dir, map[string]string{"broken.yaml": "apiVersion: v1\nkind: [Namespace\n"})
	files, err := listFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, parseErrs := readFiles(dir, files)
	deployment := &unstructured.Unstructured{Object: map[string]interface{}{}}
	deployment.SetGroupVersionKind(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"})
	deployment.SetNamespace("shop")
	deployment.SetName("web")
	setAnnotation(deployment, annSourcePath, "deploy.yaml")
	applyErr := applyFailedError(errors.New("field not declared in schema"), refOf(deployment), deployment)

	base := func() *rsyncStatus {
		return &rsyncStatus{ObservedGeneration: 1, Reconciler: "root-reconciler",
			Conditions: []condition{{Type: "Reconciling", Status: "False", LastUpdateTime: ts, LastTransitionTime: ts}}}
	}
	synced := func(st *rsyncStatus, syncErrs MultiError) {
		mutateSourceStatus(st, &stageState{spec: spec, commit: commit07, lastUpdate: ts})
		mutateRenderingStatus(st, &stageState{spec: spec, commit: commit07, message: renderingSkipped, lastUpdate: ts})
		mutateSourceStatus(st, &stageState{spec: spec, commit: commit07, lastUpdate: ts})
		mutateSyncStatus(st, &stageState{spec: spec, commit: commit07, errs: syncErrs, lastUpdate: ts})
	}
	shapes := map[string]func(*rsyncStatus){
		"manager only (PENDING)": func(*rsyncStatus) {},
		"pull error (KNV2004)": func(st *rsyncStatus) {
			mutateSourceStatus(st, &stageState{spec: spec, errs: MultiError{sourceError(errors.New("error in the oci-sync container: x"))}, lastUpdate: ts})
		},
		"parse error (KNV2001) with errorResources": func(st *rsyncStatus) {
			mutateSourceStatus(st, &stageState{spec: spec, commit: commit06, errs: MultiError(parseErrs), lastUpdate: ts})
		},
		"rendering skipped (Syncing=True)": func(st *rsyncStatus) {
			mutateSourceStatus(st, &stageState{spec: spec, commit: commit07, lastUpdate: ts})
			mutateRenderingStatus(st, &stageState{spec: spec, commit: commit07, message: renderingSkipped, lastUpdate: ts})
		},
		"applying (Syncing=True reason Sync)": func(st *rsyncStatus) {
			mutateSourceStatus(st, &stageState{spec: spec, commit: commit07, lastUpdate: ts})
			mutateRenderingStatus(st, &stageState{spec: spec, commit: commit07, message: renderingSkipped, lastUpdate: ts})
			mutateSyncStatus(st, &stageState{spec: spec, commit: commit07, syncing: true, lastUpdate: ts})
		},
		"apply refused (KNV2009) with errorResources": func(st *rsyncStatus) { synced(st, MultiError{applyErr}) },
		"synced": func(st *rsyncStatus) { synced(st, nil) },
	}
	for _, file := range []string{"rootsync-crd.yaml", "reposync-crd.yaml"} {
		crd, err := crdschema.Load(file, "v1beta1")
		if err != nil {
			t.Fatal(err)
		}
		if crd.At("status.conditions.[].errorSourceRefs") == nil {
			t.Fatalf("%s: no status schema to check against", file)
		}
		for name, shape := range shapes {
			st := base()
			shape(st)
			data, err := json.Marshal(st)
			if err != nil {
				t.Fatal(err)
			}
			var decoded interface{}
			if err := json.Unmarshal(data, &decoded); err != nil {
				t.Fatal(err)
			}
			if problems := crdschema.Validate(crd.At("status"), decoded); len(problems) > 0 {
				t.Errorf("%s, %s: %v\n%s", file, name, problems, data)
			}
		}
	}
}
