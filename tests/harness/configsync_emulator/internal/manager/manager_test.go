package manager

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"configsync.test/emulator/internal/core"
)

const (
	referenceDir  = "/work/shared/reference"
	recordingsDir = referenceDir + "/config-sync-1.24.3-recordings"
)

func TestApplySetID(t *testing.T) {
	for _, tc := range []struct{ kind, name, namespace, want string }{
		// scenario-01 rootsync-03-synced.yaml
		{core.RootSyncKind, "root-sync", core.SystemNamespace, "applyset-e22zDPwKdkFqCzUzScEvOv2nZZ55DLNRI-wrMTICH94-v1"},
		// scenario-10 phase2-after-rolebinding-reposync.yaml
		{core.RepoSyncKind, "team-sync", "team-a", "applyset-gzHKTlHaLKbf-8C9O3DXX5d-HYp2qd_U7ldJKQRCdas-v1"},
	} {
		if got := applySetID(tc.kind, tc.name, tc.namespace); got != tc.want {
			t.Errorf("applySetID(%s %s/%s) = %s, want %s", tc.kind, tc.namespace, tc.name, got, tc.want)
		}
	}
}

func syncFromYAML(t *testing.T, kind, text string) *syncObject {
	t.Helper()
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(text), &obj.Object); err != nil {
		t.Fatal(err)
	}
	s, err := parseSync(kind, obj)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validateAll(s *syncObject) error {
	if err := validateMetadata(s); err != nil {
		return err
	}
	return validateSpec(s.Kind, &s.Spec)
}

func TestValidationMessages(t *testing.T) {
	const suffix = "\n\nFor more information, see https://g.co/cloud/acm-errors#knv1061"
	root := func(meta, oci string) string {
		return "metadata: {" + meta + "}\nspec:\n  sourceType: oci\n  oci: " + oci + "\n"
	}
	rootMeta := "name: s, namespace: config-management-system"
	for _, tc := range []struct {
		name, kind, yaml, want string
	}{
		{"scenario-09 gcpserviceaccount without email", core.RootSyncKind,
			"metadata: {name: gsa-no-email, namespace: config-management-system}\nspec:\n  sourceType: oci\n  sourceFormat: unstructured\n  oci: {image: us-docker.pkg.dev/my-project/my-repo/bundle:v1, dir: ., auth: gcpserviceaccount, period: 5s}\n",
			`KNV1061: RootSyncs which specify spec.oci.auth as "gcpserviceaccount" must also specify spec.oci.gcpServiceAccountEmail`},
		{"bad email", core.RootSyncKind, root(rootMeta, "{image: i, auth: gcpserviceaccount, gcpServiceAccountEmail: sa@example.com}"),
			`KNV1061: RootSyncs which specify spec.oci.auth as "gcpserviceaccount" must use suffix <gcp_serviceaccount_name>.[.iam.gserviceaccount.com]`},
		{"short email name", core.RootSyncKind, root(rootMeta, "{image: i, auth: gcpserviceaccount, gcpServiceAccountEmail: abc@p.iam.gserviceaccount.com}"),
			`KNV1061: RootSyncs which specify spec.oci.auth as "gcpserviceaccount" must use suffix <gcp_serviceaccount_name>.[.iam.gserviceaccount.com]`},
		{"good email", core.RootSyncKind, root(rootMeta, "{image: i, auth: gcpserviceaccount, gcpServiceAccountEmail: syncer@my-project.iam.gserviceaccount.com}"), ""},
		{"no oci", core.RootSyncKind, "metadata: {" + rootMeta + "}\nspec: {sourceType: oci}\n",
			`KNV1061: RootSyncs must specify spec.oci when spec.sourceType is "oci"`},
		{"no image", core.RepoSyncKind, "metadata: {name: s, namespace: team-a}\nspec: {sourceType: oci, oci: {auth: none}}\n",
			`KNV1061: RepoSyncs must specify spec.oci.image when spec.sourceType is "oci"`},
		{"bad auth", core.RootSyncKind, root(rootMeta, "{image: i, auth: ssh}"),
			`KNV1061: RootSyncs must specify spec.oci.auth to be one of gcenode,gcpserviceaccount,k8sserviceaccount,none`},
		{"missing auth", core.RootSyncKind, root(rootMeta, "{image: i}"),
			`KNV1061: RootSyncs must specify spec.oci.auth to be one of gcenode,gcpserviceaccount,k8sserviceaccount,none`},
		{"token without secretRef", core.RootSyncKind, root(rootMeta, "{image: i, auth: token}"),
			`KNV1061: RootSyncs which specify spec.oci.auth as one of "ssh", "cookiefile", "githubapp", or "token" must also specify spec.oci.secretRef`},
		{"none with secretRef", core.RootSyncKind, root(rootMeta, "{image: i, auth: none, secretRef: {name: x}}"),
			`KNV1061: RootSyncs which specify spec.oci.auth as one of "none", "gcenode", or "gcpserviceaccount" must not specify spec.oci.secretRef`},
		{"token with secretRef", core.RootSyncKind, root(rootMeta, "{image: i, auth: token, secretRef: {name: x}}"), ""},
		{"RootSync outside config-management-system", core.RootSyncKind, root("name: s, namespace: default", "{image: i, auth: none}"),
			`KNV1061: RootSync objects are only allowed in the config-management-system namespace, not in default`},
		{"RepoSync in config-management-system", core.RepoSyncKind, root("name: s, namespace: config-management-system", "{image: i, auth: none}"),
			`KNV1061: RepoSync objects are not allowed in the config-management-system namespace`},
		{"RootSync name too long", core.RootSyncKind, root("name: "+strings.Repeat("a", 39)+", namespace: config-management-system", "{image: i, auth: none}"),
			`KNV1061: maximum length of RootSync name is 38, but found 39`},
		{"RootSync name at the limit", core.RootSyncKind, root("name: "+strings.Repeat("a", 38)+", namespace: config-management-system", "{image: i, auth: none}"), ""},
		{"RepoSync name+namespace too long", core.RepoSyncKind, root("name: "+strings.Repeat("a", 40)+", namespace: team-a", "{image: i, auth: none}"),
			`KNV1061: maximum combined length of RepoSync name and namespace is 45, but found 46`},
		{"reconciler name not DNS-1123", core.RootSyncKind, root("name: Bad_Name, namespace: config-management-system", "{image: i, auth: none}"),
			`KNV1061: Invalid reconciler name "root-reconciler-Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
		{"bad deletion propagation", core.RootSyncKind, root(rootMeta+", annotations: {configsync.gke.io/deletion-propagation-policy: Later}", "{image: i, auth: none}"),
			`KNV1061: RootSyncs which specify the annotation "configsync.gke.io/deletion-propagation-policy" must use one of the values "Foreground" or "Orphan"`},
		{"bad source type", core.RootSyncKind, "metadata: {" + rootMeta + "}\nspec: {sourceType: svn}\n",
			`KNV1061: RootSyncs must specify spec.sourceType to be one of "git", "oci", "helm"`},
		{"Role roleRef without namespace", core.RootSyncKind, "metadata: {" + rootMeta + "}\nspec: {sourceType: oci, oci: {image: i, auth: none}, override: {roleRefs: [{kind: Role, name: r}]}}\n",
			`KNV1061: RootSyncs must specify 'spec.override.roleRefs.namespace' for role references with kind Role`},
		{"negative resources", core.RepoSyncKind, "metadata: {name: s, namespace: team-a}\nspec: {sourceType: oci, oci: {image: i, auth: none}, override: {resources: [{containerName: reconciler, memoryLimit: -1Mi}]}}\n",
			`KNV1061: RepoSync field 'spec.override.resources.memoryLimit' must not be negative`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := validateAll(syncFromYAML(t, tc.kind, tc.yaml))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error %q", err)
			case tc.want != "" && err == nil:
				t.Fatalf("no error, want %q", tc.want)
			case tc.want != "" && err.Error() != tc.want+suffix:
				t.Fatalf("error\n%q\nwant\n%q", err.Error(), tc.want+suffix)
			}
		})
	}
	if got := errMissingSecret("reg-auth-ca").Error(); got != "KNV1061: Secret reg-auth-ca not found: create one to allow client authentication"+suffix {
		t.Errorf("MissingSecret: %q", got)
	}
}

// templateFromReference is what the harness writes to the manager's ./deployment.yaml: the release ConfigMap's
// deployment.yaml with the image names filled in.
func templateFromReference(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(referenceDir, "config-sync-1.24.3-manifests", "reconciler-manager-configmap.yaml"))
	if err != nil {
		t.Skipf("reference manifests not available: %v", err)
	}
	var cm struct {
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal(data, &cm); err != nil {
		t.Fatal(err)
	}
	text := cm.Data["deployment.yaml"]
	for placeholder, image := range map[string]string{
		"RECONCILER_IMAGE_NAME": "reconciler", "OCI_SYNC_IMAGE_NAME": "oci-sync", "HYDRATION_CONTROLLER_IMAGE_NAME": "hydration-controller",
		"GIT_SYNC_IMAGE_NAME": "git-sync", "HELM_SYNC_IMAGE_NAME": "helm-sync", "ASKPASS_IMAGE_NAME": "gcenode-askpass-sidecar",
		"OTELCONTRIBCOL_IMAGE_NAME": "otelcontribcol",
	} {
		text = strings.ReplaceAll(text, placeholder, "gcr.io/config-management-release/"+image+":v1.24.3")
	}
	return []byte(text)
}

func readYAMLMap(t *testing.T, path string) map[string]interface{} {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("recording not available: %v", err)
	}
	out := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func dig(m interface{}, path ...string) interface{} {
	for _, p := range path {
		mm, ok := m.(map[string]interface{})
		if !ok {
			return nil
		}
		m = mm[p]
	}
	return m
}

// containerFields keeps the container fields the manager sets (the API server adds the others).
func containerFields(list interface{}) []interface{} {
	var out []interface{}
	items, _ := list.([]interface{})
	for _, item := range items {
		c := item.(map[string]interface{})
		kept := map[string]interface{}{}
		for _, k := range []string{"name", "image", "command", "args", "env", "volumeMounts", "resources", "ports", "securityContext", "imagePullPolicy"} {
			if v, ok := c[k]; ok {
				kept[k] = v
			}
		}
		out = append(out, kept)
	}
	return out
}

func TestBuildDeploymentMatchesRecordings(t *testing.T) {
	tmplData := templateFromReference(t)
	membershipB := &membership{
		WorkloadIdentityPool: "my-project.svc.id.goog",
		IdentityProvider:     "https://container.googleapis.com/v1/projects/my-project/locations/us-central1/clusters/my-cluster",
	}
	for _, tc := range []struct {
		name, kind, sync, recorded string
		generation                 int64
		membership                 *membership
	}{
		{"scenario-01", core.RootSyncKind, "scenario-01-rootsync-oci-valid/inputs/rootsync.yaml",
			"scenario-01-rootsync-oci-valid/cluster-objects/deployment-root-reconciler.yaml", 1, nil},
		{"scenario-04 caCertSecretRef", core.RootSyncKind, "scenario-04-basic-auth-registry-auth-none/inputs/rootsync.yaml",
			"scenario-04-basic-auth-registry-auth-none/reconciler-deployment.yaml", 1, nil},
		{"scenario-10 RepoSync", core.RepoSyncKind, "scenario-10-reposync-nondefault-name/inputs/reposync.yaml",
			"scenario-10-reposync-nondefault-name/reconciler-deployment.yaml", 1, nil},
		{"scenario-14 A", core.RootSyncKind, "scenario-14-fleet-membership-k8sserviceaccount/inputs/rootsync-wi-ksa.yaml",
			"scenario-14-fleet-membership-k8sserviceaccount/phaseA-no-membership-object/deployment-root-reconciler-wi-ksa.yaml", 1, nil},
		{"scenario-14 B", core.RootSyncKind, "scenario-14-fleet-membership-k8sserviceaccount/inputs/rootsync-wi-ksa.yaml",
			"scenario-14-fleet-membership-k8sserviceaccount/phaseB-membership-created-after-rootsync/deployment-root-reconciler-wi-ksa.yaml", 1, membershipB},
		{"scenario-14 D", core.RootSyncKind, "scenario-14-fleet-membership-k8sserviceaccount/inputs/rootsync-wi-gsa.yaml",
			"scenario-14-fleet-membership-k8sserviceaccount/phaseD-gcpserviceaccount-with-membership/deployment-root-reconciler-wi-gsa.yaml", 1, membershipB},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recorded := readYAMLMap(t, filepath.Join(recordingsDir, tc.recorded))
			input, err := os.ReadFile(filepath.Join(recordingsDir, tc.sync))
			if err != nil {
				t.Skip(err)
			}
			s := syncFromYAML(t, tc.kind, string(input))
			s.Generation = tc.generation
			tmpl, err := parseTemplate(tmplData)
			if err != nil {
				t.Fatal(err)
			}
			d, err := buildDeployment(tmpl, deploymentInput{
				Sync: s, ReconcilerPollingPeriod: 15 * time.Second, HydrationPollingPeriod: 5 * time.Second, Membership: tc.membership,
			})
			if err != nil {
				t.Fatal(err)
			}
			data, _ := json.Marshal(d)
			built := map[string]interface{}{}
			if err := json.Unmarshal(data, &built); err != nil {
				t.Fatal(err)
			}
			for _, path := range [][]string{
				{"metadata", "name"}, {"metadata", "namespace"}, {"metadata", "labels"},
				{"spec", "selector"}, {"spec", "replicas"}, {"spec", "minReadySeconds"}, {"spec", "strategy"},
				{"spec", "template", "metadata", "labels"}, {"spec", "template", "metadata", "annotations"},
				{"spec", "template", "spec", "volumes"}, {"spec", "template", "spec", "serviceAccountName"},
				{"spec", "template", "spec", "serviceAccount"}, {"spec", "template", "spec", "securityContext"},
			} {
				if got, want := dig(built, path...), dig(recorded, path...); !reflect.DeepEqual(got, want) {
					t.Errorf("%s:\n got %v\nwant %v", strings.Join(path, "."), got, want)
				}
			}
			got := containerFields(dig(built, "spec", "template", "spec", "containers"))
			want := containerFields(dig(recorded, "spec", "template", "spec", "containers"))
			if len(got) != len(want) {
				t.Fatalf("containers: got %d, want %d", len(got), len(want))
			}
			for i := range got {
				if !reflect.DeepEqual(got[i], want[i]) {
					g, _ := json.MarshalIndent(got[i], "", " ")
					w, _ := json.MarshalIndent(want[i], "", " ")
					t.Errorf("container %d:\n got %s\nwant %s", i, g, w)
				}
			}
		})
	}
}

func TestBuildDeploymentOverridesAndTokenAuth(t *testing.T) {
	tmpl, err := parseTemplate(templateFromReference(t))
	if err != nil {
		t.Fatal(err)
	}
	s := syncFromYAML(t, core.RepoSyncKind, `
metadata: {name: repo-sync, namespace: team-b}
spec:
  sourceType: oci
  oci: {image: x/y:v1, auth: token, secretRef: {name: creds}, caCertSecretRef: {name: ca}, period: 90s}
  override:
    reconcileTimeout: 2m
    apiServerTimeout: 30s
    statusMode: disabled
    logLevels: [{containerName: oci-sync, logLevel: 3}, {containerName: otel-agent, logLevel: 2}]
    resources: [{containerName: reconciler, cpuRequest: 100m, memoryLimit: 1Gi}]
`)
	s.Generation = 3
	d, err := buildDeployment(tmpl, deploymentInput{Sync: s, ReconcilerPollingPeriod: time.Minute, HydrationPollingPeriod: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range d.Spec.Template.Spec.Containers {
		names = append(names, c.Name)
	}
	if !reflect.DeepEqual(names, []string{"reconciler", "oci-sync", "otel-agent"}) {
		t.Fatalf("containers %v", names)
	}
	rec, oci, otel := d.Spec.Template.Spec.Containers[0], d.Spec.Template.Spec.Containers[1], d.Spec.Template.Spec.Containers[2]
	env := map[string]string{}
	for _, e := range rec.Env {
		env[e.Name] = e.Value
	}
	for k, v := range map[string]string{"RECONCILE_TIMEOUT": "2m0s", "API_SERVER_TIMEOUT": "30s", "STATUS_MODE": "disabled",
		"RECONCILER_POLLING_PERIOD": "1m0s", "SCOPE": "team-b", "SYNC_GENERATION": "3", "RECONCILER_NAME": "ns-reconciler-team-b"} {
		if env[k] != v {
			t.Errorf("reconciler env %s = %q, want %q", k, env[k], v)
		}
	}
	if _, ok := env["SOURCE_FORMAT"]; ok {
		t.Errorf("RepoSync reconciler has SOURCE_FORMAT")
	}
	if got := rec.Resources.Requests.Cpu().String(); got != "100m" {
		t.Errorf("reconciler cpu request %s", got)
	}
	if got := rec.Resources.Requests.Memory().String(); got != "200Mi" {
		t.Errorf("reconciler memory request %s", got)
	}
	if got := rec.Resources.Limits.Memory().String(); got != "1Gi" {
		t.Errorf("reconciler memory limit %s", got)
	}
	if last := oci.Args[len(oci.Args)-1]; last != "-v=3" {
		t.Errorf("oci-sync args %v", oci.Args)
	}
	if last := otel.Args[len(otel.Args)-1]; last != "--set=service.telemetry.logs.level=dpanic" {
		t.Errorf("otel-agent args %v", otel.Args)
	}
	ociEnv := map[string]string{}
	for _, e := range oci.Env {
		if e.ValueFrom != nil {
			ociEnv[e.Name] = e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
		} else {
			ociEnv[e.Name] = e.Value
		}
	}
	for k, v := range map[string]string{"OCI_SYNC_WAIT": "90.000000", "OCI_SYNC_AUTH": "token", "SSL_CERT_FILE": "/etc/ca-cert/cert",
		"OCI_SYNC_USERNAME": "ns-reconciler-team-b-creds/username", "OCI_SYNC_PASSWORD": "ns-reconciler-team-b-creds/password"} {
		if ociEnv[k] != v {
			t.Errorf("oci-sync env %s = %q, want %q", k, ociEnv[k], v)
		}
	}
	if oci.VolumeMounts[0].Name != caCertVolume || oci.VolumeMounts[0].MountPath != "/etc/ca-cert" || !oci.VolumeMounts[0].ReadOnly {
		t.Errorf("oci-sync mounts %+v", oci.VolumeMounts)
	}
	last := d.Spec.Template.Spec.Volumes[len(d.Spec.Template.Spec.Volumes)-1]
	if last.Name != caCertVolume || last.Secret == nil || last.Secret.SecretName != "ns-reconciler-team-b-ca" {
		t.Errorf("ca-cert volume %+v", last)
	}
}

func TestRequiresRenderingKeepsHydrationController(t *testing.T) {
	tmpl, err := parseTemplate(templateFromReference(t))
	if err != nil {
		t.Fatal(err)
	}
	s := syncFromYAML(t, core.RootSyncKind, `
metadata: {name: root-sync, namespace: config-management-system, annotations: {configsync.gke.io/requires-rendering: "true"}}
spec: {sourceType: oci, sourceFormat: unstructured, oci: {image: x/y:v1, dir: ., auth: none}}
`)
	d, err := buildDeployment(tmpl, deploymentInput{Sync: s, ReconcilerPollingPeriod: 15 * time.Second, HydrationPollingPeriod: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c := d.Spec.Template.Spec.Containers[0]
	if c.Name != containerHydration {
		t.Fatalf("first container %s", c.Name)
	}
	want := []string{"SOURCE_TYPE=oci", "SCOPE=:root", "RECONCILER_NAME=root-reconciler", "NAMESPACE_NAME=:root", "SYNC_DIR=.", "HYDRATION_POLLING_PERIOD=5s"}
	var got []string
	for _, e := range c.Env {
		got = append(got, e.Name+"="+e.Value)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("hydration env %v", got)
	}
	for _, e := range d.Spec.Template.Spec.Containers[1].Env {
		if e.Name == "RENDERING_ENABLED" && e.Value != "true" {
			t.Errorf("RENDERING_ENABLED=%s", e.Value)
		}
	}
}

func fixedNow() string { return "2026-12-07T22:44:38Z" }

func TestStatusEdits(t *testing.T) {
	// First reconcile of a new RootSync (scenario-01 rootsync-02-pending-first-status.yaml).
	status, changed := applyStatusEdit(nil, "root-reconciler", 1, func(c *conditions) {
		c.setReconciling("Deployment", "Deployment (config-management-system/root-reconciler) InProgress: Replicas: 0/1")
		c.clear("Stalled")
	}, fixedNow)
	if !changed {
		t.Fatal("no change")
	}
	want := map[string]interface{}{
		"conditions": []interface{}{map[string]interface{}{
			"type": "Reconciling", "status": "True", "reason": "Deployment",
			"message":            "Deployment (config-management-system/root-reconciler) InProgress: Replicas: 0/1",
			"lastTransitionTime": fixedNow(), "lastUpdateTime": fixedNow(),
		}},
		"observedGeneration": int64(1),
		"reconciler":         "root-reconciler",
		"rendering":          map[string]interface{}{"lastUpdate": nil},
		"source":             map[string]interface{}{"lastUpdate": nil},
		"sync":               map[string]interface{}{"lastUpdate": nil},
	}
	if !reflect.DeepEqual(status, want) {
		a, _ := json.Marshal(status)
		b, _ := json.Marshal(want)
		t.Fatalf("status\n%s\nwant\n%s", a, b)
	}
	// The same edit again changes nothing.
	if _, changed := applyStatusEdit(status, "root-reconciler", 1, func(c *conditions) {
		c.setReconciling("Deployment", "Deployment (config-management-system/root-reconciler) InProgress: Replicas: 0/1")
		c.clear("Stalled")
	}, fixedNow); changed {
		t.Error("repeated edit reported a change")
	}
	// Available: Reconciling=False without reason or message.
	status, _ = applyStatusEdit(status, "root-reconciler", 1, func(c *conditions) { c.clear("Reconciling"); c.clear("Stalled") }, fixedNow)
	cond := status["conditions"].([]interface{})[0].(map[string]interface{})
	if cond["status"] != "False" || cond["reason"] != nil || cond["message"] != nil {
		t.Errorf("cleared condition %v", cond)
	}
	// The reconciler adds Syncing; a new Reconciling=True transition removes it (scenario-02).
	status["conditions"] = append(status["conditions"].([]interface{}), map[string]interface{}{"type": "Syncing", "status": "False", "reason": "Sync"})
	status, _ = applyStatusEdit(status, "root-reconciler", 2, func(c *conditions) {
		c.setReconciling("Deployment", "Deployment (config-management-system/root-reconciler) InProgress: Deployment generation is 2, but latest observed generation is 1")
	}, fixedNow)
	if n := len(status["conditions"].([]interface{})); n != 1 || status["observedGeneration"] != int64(2) {
		t.Errorf("after transition: %v", status)
	}
	// Stalled (scenario-09).
	status, _ = applyStatusEdit(nil, "root-reconciler-gsa-no-email", 1, func(c *conditions) {
		c.setStalled("Validation", errors.New("KNV1061: x"))
	}, fixedNow)
	cond = status["conditions"].([]interface{})[0].(map[string]interface{})
	if cond["type"] != "Stalled" || cond["reason"] != "Validation" || !reflect.DeepEqual(cond["errorSummary"], singleErrorSummary) {
		t.Errorf("stalled condition %v", cond)
	}
}

func TestKnownFlags(t *testing.T) {
	got := knownFlagsForTest([]string{"-v=1", "--logtostderr", "--unknown=3", "--cluster-name", "c", "--other", "x", "-alsologtostderr"})
	want := []string{"-v=1", "--logtostderr", "--cluster-name", "c", "-alsologtostderr"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("knownFlags = %v, want %v", got, want)
	}
}

func knownFlagsForTest(args []string) []string {
	return knownFlags(newFlagSet(&options{}), args)
}
