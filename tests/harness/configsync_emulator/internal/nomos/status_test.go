package nomos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"configsync.test/emulator/internal/resourcegroup"
)

// The recordings of real Config Sync v1.24.3 (read in place, never copied): the sync objects and ResourceGroups as
// they were when each `nomos status` ran, and the text it printed.
const recordings = "/work/shared/reference/config-sync-1.24.3-recordings"

func recording(t *testing.T, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(recordings, rel))
	if err != nil {
		t.Skipf("recording not available: %v", err)
	}
	return data
}

// recordedOutput is a nomos-status*.txt without its header lines (the command line, the return code or the
// capture time).
func recordedOutput(t *testing.T, rel string) string {
	lines := strings.SplitAfter(string(recording(t, rel)), "\n")
	for len(lines) > 0 && (strings.HasPrefix(lines[0], "$ ") || strings.HasPrefix(lines[0], "# ")) {
		lines = lines[1:]
	}
	return strings.Join(lines, "")
}

func yamlObject(t *testing.T, rel string, into any) bool {
	t.Helper()
	data := recording(t, rel)
	if strings.HasPrefix(strings.TrimSpace(string(data)), "#") && strings.Contains(string(data), "not found") {
		return false
	}
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	if err := json.Unmarshal(j, into); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return true
}

func syncFromYAML(t *testing.T, kind, rel string) syncObject {
	t.Helper()
	var s syncObject
	if !yamlObject(t, rel, &s) {
		t.Fatalf("%s: no object", rel)
	}
	s.Kind = kind
	return s
}

func rgFromYAML(t *testing.T, rel string) resourceGroup {
	t.Helper()
	var rg resourceGroup
	if !yamlObject(t, rel, &rg) {
		t.Fatalf("%s: no object", rel)
	}
	return rg
}

// syncFromEvent is one event of a recorded watch sequence (spec and status) as the sync object it showed.
func syncFromEvent(t *testing.T, kind, name, namespace, rel string, index int) syncObject {
	t.Helper()
	var events []struct {
		Spec   json.RawMessage `json:"spec"`
		Status json.RawMessage `json:"status"`
	}
	if err := json.Unmarshal(recording(t, rel), &events); err != nil {
		t.Fatal(err)
	}
	s := syncObject{Kind: kind, Metadata: objectMeta{Name: name, Namespace: namespace}}
	if err := json.Unmarshal(events[index].Spec, &s.Spec); err != nil {
		t.Fatal(err)
	}
	if string(events[index].Status) != "null" {
		if err := json.Unmarshal(events[index].Status, &s.Status); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// stub is a sync object of another scenario that ran at the same time: only its name matters (it has no
// ResourceGroup yet, and the --name filter hides it).
func stub(kind, namespace, name string) syncObject {
	return syncObject{Kind: kind, Metadata: objectMeta{Name: name, Namespace: namespace}}
}

type notFound struct{ what string }

func (n notFound) Error() string { return n.what + " not found" }

// fakeCluster is an OSS Config Sync install (no ConfigManagement object, no ACM operator) holding the given objects.
type fakeCluster struct {
	rootSyncs, repoSyncs []syncObject
	groups               []resourceGroup
}

func (f *fakeCluster) isNotFound(err error) bool { var n notFound; return errors.As(err, &n) }
func (f *fakeCluster) configManagement(context.Context) (map[string]any, error) {
	return nil, notFound{"configmanagements"}
}
func (f *fakeCluster) deploymentExists(_ context.Context, _, name string) error {
	return notFound{name}
}
func (f *fakeCluster) namespaceExists(context.Context, string) error { return nil }
func (f *fakeCluster) runningPods(context.Context, string, string) (bool, error) {
	return false, nil
}
func (f *fakeCluster) crdExists(context.Context, string) error { return nil }
func (f *fakeCluster) listSyncs(_ context.Context, kind, namespace string) ([]syncObject, error) {
	all := f.rootSyncs
	if kind == "RepoSync" {
		all = f.repoSyncs
	}
	var out []syncObject
	for _, s := range all {
		if namespace == "" || s.Metadata.Namespace == namespace {
			out = append(out, s)
		}
	}
	return out, nil
}
func (f *fakeCluster) listResourceGroups(_ context.Context, namespace string) ([]resourceGroup, error) {
	var out []resourceGroup
	for _, rg := range f.groups {
		if namespace == "" || rg.Metadata.Namespace == namespace {
			out = append(out, rg)
		}
	}
	return out, nil
}

// render is the whole output of `nomos status --contexts=configsync-test [flags]` for one fake cluster.
func render(c cluster, opts statusOptions) string {
	var out bytes.Buffer
	out.WriteString("Connecting to clusters...\n")
	w := newWriter(&out)
	state := clusterStatus(context.Background(), c, "configsync-test", opts.namespace)
	writeStates(w, map[string]*clusterState{"configsync-test": state}, []string{"configsync-test"}, "configsync-test",
		printOptions{name: opts.name, resources: opts.resources})
	_ = w.Flush()
	return out.String()
}

func compare(t *testing.T, got, wantFile string) {
	t.Helper()
	want := recordedOutput(t, wantFile)
	if got != want {
		t.Errorf("%s differs\n--- got ---\n%s--- want ---\n%s", wantFile, got, want)
	}
}

var defaults = statusOptions{resources: true}

func TestScenario01Sequence(t *testing.T) {
	const s01 = "scenario-01-rootsync-oci-valid/"
	created := syncFromYAML(t, "RootSync", s01+"rootsync-01-right-after-create.yaml")
	compare(t, render(&fakeCluster{rootSyncs: []syncObject{created}}, defaults), s01+"nomos-status-00.txt")

	reconciling := syncFromYAML(t, "RootSync", s01+"rootsync-02-pending-first-status.yaml")
	compare(t, render(&fakeCluster{rootSyncs: []syncObject{reconciling}}, defaults), s01+"nomos-status-01.txt")

	available := syncFromEvent(t, "RootSync", "root-sync", "config-management-system", s01+"rootsync-distinct-states.json", 4)
	compare(t, render(&fakeCluster{rootSyncs: []syncObject{available}}, defaults), s01+"nomos-status-02.txt")

	synced := syncFromYAML(t, "RootSync", s01+"rootsync-03-synced.yaml")
	before := rgFromYAML(t, s01+"resourcegroup-root-sync.yaml")
	compare(t, render(&fakeCluster{rootSyncs: []syncObject{synced}, groups: []resourceGroup{before}}, defaults), s01+"nomos-status-03.txt")
}

func TestScenario01Final(t *testing.T) {
	const s01 = "scenario-01-rootsync-oci-valid/"
	synced := syncFromYAML(t, "RootSync", s01+"rootsync-03-synced.yaml")
	newCluster := func() *fakeCluster {
		return &fakeCluster{rootSyncs: []syncObject{synced}, groups: []resourceGroup{rgFromYAML(t, s01+"resourcegroup-root-sync-after-status.yaml")}}
	}
	compare(t, render(newCluster(), defaults), s01+"nomos-status-final.txt")
	compare(t, render(newCluster(), statusOptions{resources: false}), s01+"nomos-status-final-resources-false.txt")
	compare(t, render(newCluster(), statusOptions{resources: true, name: "root-sync", namespace: "config-management-system"}),
		s01+"nomos-status-final-name-filter.txt")
}

// reconciledRG is a recorded ResourceGroup (as the reconciler's applier last wrote it) after the resource-group
// controller's next reconcile against the recorded live objects: the state nomos read when the controller had run.
func reconciledRG(t *testing.T, rgFile string, liveFiles ...string) resourceGroup {
	t.Helper()
	load := func(rel string) *unstructured.Unstructured {
		j, err := yaml.YAMLToJSON(recording(t, rel))
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(j); err != nil {
			t.Fatal(err)
		}
		return u
	}
	var live []*unstructured.Unstructured
	for _, f := range liveFiles {
		live = append(live, load(f))
	}
	rg := load(rgFile)
	status, write, err := resourcegroup.Reconciled(rg, live, time.Now().UTC())
	if err != nil || !write {
		t.Fatalf("%s: write=%v err=%v", rgFile, write, err)
	}
	data, err := json.Marshal(status)
	if err != nil {
		t.Fatal(err)
	}
	var out resourceGroup
	out.Metadata = objectMeta{Name: rg.GetName(), Namespace: rg.GetNamespace()}
	if err := json.Unmarshal(data, &out.Status); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestScenario02(t *testing.T) {
	const s02 = "scenario-02-image-update/"
	// The ResourceGroup recorded right after the sync (the applier's write), once the controller ran: the
	// Namespace as scenario 08 recorded it before its change (the same moment), the ConfigMap as applied.
	rg := reconciledRG(t, s02+"resourcegroup-root-sync.yaml",
		"scenario-08-prune-removed-file/before-namespace-demo.yaml", s02+"applied-configmap-demo-config.yaml")
	c := &fakeCluster{rootSyncs: []syncObject{syncFromYAML(t, "RootSync", s02+"rootsync-after-synced.yaml")},
		groups: []resourceGroup{rg}}
	compare(t, render(c, defaults), s02+"nomos-status.txt")
}

func TestScenario10Phase2AndEndOfSession(t *testing.T) {
	const s08 = "scenario-08-prune-removed-file/"
	const s10 = "scenario-10-reposync-nondefault-name/"
	newCluster := func() *fakeCluster {
		return &fakeCluster{
			rootSyncs: []syncObject{syncFromYAML(t, "RootSync", s08+"after-rootsync.yaml")},
			repoSyncs: []syncObject{syncFromYAML(t, "RepoSync", s10+"phase2-after-rolebinding-reposync.yaml")},
			groups: []resourceGroup{
				reconciledRG(t, s08+"after-resourcegroup-with-status.yaml", s08+"after-namespace-demo.yaml", s08+"after-configmap-extra.yaml"),
				reconciledRG(t, s10+"phase2-resourcegroup.yaml", s10+"phase2-applied-configmap.yaml"),
			},
		}
	}
	compare(t, render(newCluster(), defaults), s10+"phase2-nomos-status.txt")
	compare(t, render(newCluster(), statusOptions{resources: true, namespace: "team-a"}), s10+"phase2-nomos-status-namespace-filter.txt")
	compare(t, render(newCluster(), defaults), "scenario-01-rootsync-oci-valid/nomos-status-end-of-session1-all-syncs.txt")
}

func TestScenario03MissingTag(t *testing.T) {
	const s03 = "scenario-03-missing-tag/"
	c := &fakeCluster{rootSyncs: []syncObject{
		stub("RootSync", "config-management-system", "bad-yaml"),
		syncFromYAML(t, "RootSync", s03+"rootsync-final.yaml"),
		stub("RootSync", "config-management-system", "wrong-dir"),
	}}
	compare(t, render(c, statusOptions{resources: true, name: "missing-tag", namespace: "config-management-system"}), s03+"nomos-status.txt")
}

func TestScenario06InvalidYAML(t *testing.T) {
	const s06 = "scenario-06-invalid-yaml/"
	c := &fakeCluster{rootSyncs: []syncObject{
		syncFromYAML(t, "RootSync", s06+"rootsync-final.yaml"),
		stub("RootSync", "config-management-system", "wrong-dir"),
	}}
	compare(t, render(c, statusOptions{resources: true, name: "bad-yaml", namespace: "config-management-system"}), s06+"nomos-status.txt")
}

func TestScenario07UnknownField(t *testing.T) {
	const s07 = "scenario-07-deployment-unknown-field/"
	c := &fakeCluster{rootSyncs: []syncObject{syncFromYAML(t, "RootSync", s07+"rootsync-final.yaml")},
		groups: []resourceGroup{rgFromYAML(t, s07+"resourcegroup.yaml")}}
	compare(t, render(c, statusOptions{resources: true, name: "unknown-field", namespace: "config-management-system"}), s07+"nomos-status.txt")
}

func TestScenario08Prune(t *testing.T) {
	const s08 = "scenario-08-prune-removed-file/"
	before := &fakeCluster{rootSyncs: []syncObject{syncFromYAML(t, "RootSync", s08+"before-rootsync.yaml")},
		groups: []resourceGroup{rgFromYAML(t, s08+"before-resourcegroup.yaml")}}
	compare(t, render(before, defaults), s08+"nomos-status-before.txt")
	after := &fakeCluster{rootSyncs: []syncObject{syncFromYAML(t, "RootSync", s08+"after-rootsync.yaml")},
		groups: []resourceGroup{rgFromYAML(t, s08+"after-resourcegroup.yaml")}}
	compare(t, render(after, defaults), s08+"nomos-status-after.txt")
}

func TestScenario09Stalled(t *testing.T) {
	const s09 = "scenario-09-gcpserviceaccount-no-email/"
	c := &fakeCluster{rootSyncs: []syncObject{
		stub("RootSync", "config-management-system", "basic-auth-no-ca"),
		stub("RootSync", "config-management-system", "basic-auth-with-ca"),
		syncFromYAML(t, "RootSync", s09+"rootsync-final.yaml"),
		stub("RootSync", "config-management-system", "hier"),
	}}
	compare(t, render(c, statusOptions{resources: true, name: "gsa-no-email", namespace: "config-management-system"}), s09+"nomos-status.txt")
}

func TestScenario10RepoSyncPhase1(t *testing.T) {
	const s10 = "scenario-10-reposync-nondefault-name/"
	c := &fakeCluster{repoSyncs: []syncObject{syncFromYAML(t, "RepoSync", s10+"phase1-no-user-rolebinding-reposync-final.yaml")}}
	compare(t, render(c, statusOptions{resources: true, name: "team-sync", namespace: "team-a"}), s10+"phase1-no-user-rolebinding-nomos-status.txt")
}

func TestScenario14Reconciling(t *testing.T) {
	const s14 = "scenario-14-fleet-membership-k8sserviceaccount/"
	c := &fakeCluster{rootSyncs: []syncObject{
		syncFromYAML(t, "RootSync", s14+"phaseD-gcpserviceaccount-with-membership/rootsync-wi-gsa.yaml"),
		syncFromYAML(t, "RootSync", s14+"phaseA-no-membership-object/rootsync-wi-ksa.yaml"),
		syncFromYAML(t, "RootSync", s14+"phaseC-membership-before-rootsync/rootsync-wi-ksa2.yaml"),
	}}
	compare(t, render(c, defaults), s14+"nomos-status.txt")
}

func TestNoSyncsAndUnreachable(t *testing.T) {
	var out bytes.Buffer
	w := newWriter(&out)
	states := map[string]*clusterState{
		"empty": clusterStatus(context.Background(), &fakeCluster{}, "empty", ""),
		"gone":  unavailableCluster("gone"),
	}
	writeStates(w, states, []string{"empty", "gone"}, "gone", printOptions{resources: true})
	_ = w.Flush()
	want := "\nempty\n  --------------------\n     No RootSync resources found; No RepoSync resources found\n" +
		"\n*gone\n  --------------------\n  N/A   Failed to connect to cluster\n"
	if out.String() != want {
		t.Errorf("got\n%q\nwant\n%q", out.String(), want)
	}
}

func TestLegacyPathWithoutSyncingCondition(t *testing.T) {
	// Without a ConfigManagement object the Syncing condition is not "supported": a sync without one is judged
	// from its stages, and its commit shortened to 8 characters.
	s := syncObject{Kind: "RootSync", Metadata: objectMeta{Name: "legacy", Namespace: "config-management-system"}}
	s.Spec = syncSpec{SourceType: "oci", Oci: &ociSpec{Image: "example.com/img:v1", Dir: "sub/dir"}}
	s.Status.Source.Commit = "0123456789abcdef"
	s.Status.Sync.Commit = "0123456789abcdef"
	st := syncRepoStatus(&s, nil, false)
	if st.status != syncedMsg || st.commit != "01234567" || st.source != "example.com/img:v1/sub/dir" {
		t.Errorf("legacy: %+v", st)
	}
	if st := syncRepoStatus(&s, nil, true); st.status != pendingMsg || st.commit != emptyCommit {
		t.Errorf("supported: %+v", st)
	}
}

func TestSemver(t *testing.T) {
	for v, want := range map[string]bool{"1.19.0": true, "v1.10.0": true, "1.10.0-rc.1": true, "1.10.0-rc.0": false, "1.9.2": false, "NOT INSTALLED": false} {
		got := false
		if parsed, ok := parseSemver(v); ok {
			since, _ := parseSemver(syncingConditionSince)
			got = !parsed.lessThan(since)
		}
		if got != want {
			t.Errorf("%s: got %v", v, got)
		}
	}
}

func TestMain(m *testing.M) {
	// The recordings were made where local time is UTC (nomos prints lastUpdate in local time).
	time.Local = time.UTC
	os.Exit(m.Run())
}
