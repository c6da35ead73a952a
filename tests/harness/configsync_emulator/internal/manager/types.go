// Package manager plays Config Sync v1.24.3's reconciler-manager (pkg/reconcilermanager, cmd/reconciler-manager):
// for every RootSync/RepoSync it validates the spec, creates the reconciler ServiceAccount, RBAC bindings and the
// reconciler Deployment from the ./deployment.yaml template, and reports Reconciling/Stalled in the sync status;
// on deletion it tears those objects down and drops its finalizer.
package manager

import (
	"encoding/json"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"configsync.test/emulator/internal/core"
)

// Names and keys, as Config Sync spells them (pkg/metadata, pkg/reconcilermanager).
const (
	managerName  = "reconciler-manager"
	fieldManager = "configsync.gke.io/reconciler-manager"

	reconcilerManagerFinalizer = "configsync.gke.io/reconciler-manager"
	reconcilerFinalizer        = "configsync.gke.io/reconciler"

	applySetIDLabel          = "applyset.kubernetes.io/id"
	applySetToolingAnno      = "applyset.kubernetes.io/tooling"
	applySetToolingName      = "configsync.gke.io"
	applySetToolingVersion   = "v1"
	managedByLabel           = "configsync.gke.io/managed-by"
	syncNamespaceLabel       = "configsync.gke.io/sync-namespace"
	syncNameLabel            = "configsync.gke.io/sync-name"
	syncKindLabel            = "configsync.gke.io/sync-kind"
	syncGenerationLabel      = "configsync.gke.io/sync-generation"
	reconcilerLabel          = "configsync.gke.io/reconciler"
	deploymentNameLabel      = "configsync.gke.io/deployment-name"
	requiresRenderingAnno    = "configsync.gke.io/requires-rendering"
	dynamicNSSelectorAnno    = "configsync.gke.io/dynamic-ns-selector-enabled"
	deletionPropagationAnno  = "configsync.gke.io/deletion-propagation-policy"
	fleetWorkloadIdentityAnn = "config.kubernetes.io/fleet-workload-identity"
	gcpSAAnnotation          = "iam.gke.io/gcp-service-account"

	// RBAC names (pkg/reconcilermanager/controllers/build_names.go).
	rootSyncLegacyCRBName   = "configsync.gke.io:root-reconciler"
	rootSyncBaseCRBName     = "configsync.gke.io:root-reconciler-base"
	rootSyncBaseClusterRole = "configsync.gke.io:root-reconciler"
	repoSyncBaseRBName      = "configsync.gke.io:ns-reconciler"
	repoSyncBaseClusterRole = "configsync.gke.io:ns-reconciler"
	repoSyncClusterScope    = "configsync.gke.io:ns-reconciler:cluster-scope"

	webhookConfigurationName = "admission-webhook.configsync.gke.io"
	fleetMembershipName      = "membership"

	rootReconcilerPrefix = "root-reconciler"
	nsReconcilerPrefix   = "ns-reconciler"
)

// Auth types and source types (pkg/api/configsync).
const (
	authSSH               = "ssh"
	authCookieFile        = "cookiefile"
	authGCENode           = "gcenode"
	authToken             = "token"
	authNone              = "none"
	authGCPServiceAccount = "gcpserviceaccount"
	authK8sServiceAccount = "k8sserviceaccount"
	authGithubApp         = "githubapp"

	sourceGit  = "git"
	sourceOci  = "oci"
	sourceHelm = "helm"
)

// Defaults (pkg/api/configsync/register.go, pkg/client/restconfig).
const (
	defaultReconcilerPollingPeriod   = 15 * time.Second
	defaultHydrationPollingPeriod    = 5 * time.Second
	defaultHelmSyncPollingPeriod     = time.Hour
	defaultReconcileTimeout          = 5 * time.Minute
	defaultAPIServerTimeout          = 15 * time.Second
	maxRootSyncNameLength            = 38
	maxRepoSyncNameAndNamespaceLenth = 45
)

type secretRef struct {
	Name string `json:"name,omitempty"`
}

func secretName(ref *secretRef) string {
	if ref == nil {
		return ""
	}
	return ref.Name
}

type ociSpec struct {
	Image                  string          `json:"image"`
	Dir                    string          `json:"dir,omitempty"`
	Period                 metav1.Duration `json:"period,omitempty"`
	Auth                   string          `json:"auth"`
	GCPServiceAccountEmail string          `json:"gcpServiceAccountEmail,omitempty"`
	CACertSecretRef        *secretRef      `json:"caCertSecretRef,omitempty"`
	SecretRef              *secretRef      `json:"secretRef,omitempty"`
}

type gitSpec struct {
	Repo                   string          `json:"repo"`
	Branch                 string          `json:"branch,omitempty"`
	Revision               string          `json:"revision,omitempty"`
	Dir                    string          `json:"dir,omitempty"`
	Period                 metav1.Duration `json:"period,omitempty"`
	Auth                   string          `json:"auth"`
	GCPServiceAccountEmail string          `json:"gcpServiceAccountEmail,omitempty"`
	Proxy                  string          `json:"proxy,omitempty"`
	SecretRef              *secretRef      `json:"secretRef,omitempty"`
	NoSSLVerify            bool            `json:"noSSLVerify,omitempty"`
	CACertSecretRef        *secretRef      `json:"caCertSecretRef,omitempty"`
}

type valuesFileRef struct {
	Name    string `json:"name,omitempty"`
	DataKey string `json:"dataKey,omitempty"`
}

type helmSpec struct {
	Repo                   string          `json:"repo"`
	Chart                  string          `json:"chart"`
	Version                string          `json:"version,omitempty"`
	ReleaseName            string          `json:"releaseName,omitempty"`
	Namespace              string          `json:"namespace,omitempty"`
	DeployNamespace        string          `json:"deployNamespace,omitempty"`
	Values                 json.RawMessage `json:"values,omitempty"`
	ValuesFileRefs         []valuesFileRef `json:"valuesFileRefs,omitempty"`
	IncludeCRDs            bool            `json:"includeCRDs,omitempty"`
	Period                 metav1.Duration `json:"period,omitempty"`
	Auth                   string          `json:"auth"`
	GCPServiceAccountEmail string          `json:"gcpServiceAccountEmail,omitempty"`
	SecretRef              *secretRef      `json:"secretRef,omitempty"`
	CACertSecretRef        *secretRef      `json:"caCertSecretRef,omitempty"`
}

type containerResources struct {
	ContainerName string            `json:"containerName,omitempty"`
	CPURequest    resource.Quantity `json:"cpuRequest,omitempty"`
	MemoryRequest resource.Quantity `json:"memoryRequest,omitempty"`
	CPULimit      resource.Quantity `json:"cpuLimit,omitempty"`
	MemoryLimit   resource.Quantity `json:"memoryLimit,omitempty"`
}

type logLevelOverride struct {
	ContainerName string `json:"containerName"`
	LogLevel      int    `json:"logLevel"`
}

type roleRef struct {
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

type overrideSpec struct {
	Resources              []containerResources `json:"resources,omitempty"`
	GitSyncDepth           *int64               `json:"gitSyncDepth,omitempty"`
	StatusMode             string               `json:"statusMode,omitempty"`
	ReconcileTimeout       *metav1.Duration     `json:"reconcileTimeout,omitempty"`
	APIServerTimeout       *metav1.Duration     `json:"apiServerTimeout,omitempty"`
	EnableShellInRendering *bool                `json:"enableShellInRendering,omitempty"`
	LogLevels              []logLevelOverride   `json:"logLevels,omitempty"`
	// RootSync only.
	NamespaceStrategy string    `json:"namespaceStrategy,omitempty"`
	RoleRefs          []roleRef `json:"roleRefs,omitempty"`
}

type syncSpec struct {
	SourceFormat string        `json:"sourceFormat,omitempty"`
	SourceType   string        `json:"sourceType,omitempty"`
	Git          *gitSpec      `json:"git,omitempty"`
	Oci          *ociSpec      `json:"oci,omitempty"`
	Helm         *helmSpec     `json:"helm,omitempty"`
	Override     *overrideSpec `json:"override,omitempty"`
}

func (s *syncSpec) override() *overrideSpec {
	if s.Override == nil {
		return &overrideSpec{}
	}
	return s.Override
}

// syncObject is a RootSync or RepoSync as the manager reads it.
type syncObject struct {
	Kind        string
	Name        string
	Namespace   string
	Generation  int64
	Annotations map[string]string
	Labels      map[string]string
	Finalizers  []string
	Deleting    bool
	Spec        syncSpec
	Obj         *unstructured.Unstructured
}

func parseSync(kind string, obj *unstructured.Unstructured) (*syncObject, error) {
	s := &syncObject{
		Kind:        kind,
		Name:        obj.GetName(),
		Namespace:   obj.GetNamespace(),
		Generation:  obj.GetGeneration(),
		Annotations: obj.GetAnnotations(),
		Labels:      obj.GetLabels(),
		Finalizers:  obj.GetFinalizers(),
		Deleting:    obj.GetDeletionTimestamp() != nil,
		Obj:         obj,
	}
	if spec, ok := obj.Object["spec"]; ok && spec != nil {
		data, err := json.Marshal(spec)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(data, &s.Spec); err != nil {
			return nil, fmt.Errorf("decoding %s %s/%s spec: %w", kind, s.Namespace, s.Name, err)
		}
	}
	return s, nil
}

func (s *syncObject) reconcilerName() string {
	return core.ReconcilerName(s.Kind, s.Namespace, s.Name)
}

func (s *syncObject) ref() string {
	return s.Namespace + "/" + s.Name
}

// scope is ":root" for a RootSync and the namespace for a RepoSync (declared.Scope).
func (s *syncObject) scope() string {
	if s.Kind == core.RootSyncKind {
		return core.RootScope
	}
	return s.Namespace
}

// sourceAuth returns the auth type, GSA email, secretRef name and caCertSecretRef name of the spec's source.
func (s *syncObject) sourceAuth() (auth, email, secret, caCert string) {
	switch s.Spec.SourceType {
	case sourceGit:
		if g := s.Spec.Git; g != nil {
			return g.Auth, g.GCPServiceAccountEmail, secretName(g.SecretRef), secretName(g.CACertSecretRef)
		}
	case sourceOci:
		if o := s.Spec.Oci; o != nil {
			return o.Auth, o.GCPServiceAccountEmail, secretName(o.SecretRef), secretName(o.CACertSecretRef)
		}
	case sourceHelm:
		if h := s.Spec.Helm; h != nil {
			return h.Auth, h.GCPServiceAccountEmail, secretName(h.SecretRef), secretName(h.CACertSecretRef)
		}
	}
	return "", "", "", ""
}

func (s *syncObject) annotationTrue(key string) bool {
	v, ok := s.Annotations[key]
	if !ok {
		return false
	}
	switch v {
	case "1", "t", "T", "true", "TRUE", "True":
		return true
	}
	return false
}

func hasFinalizer(finalizers []string, name string) bool {
	for _, f := range finalizers {
		if f == name {
			return true
		}
	}
	return false
}

// managedObjectLabels is ManagedObjectLabelMap: the labels of every object the manager creates for a sync.
func managedObjectLabels(kind, namespace, name string) map[string]string {
	return map[string]string{
		managedByLabel:     managerName,
		syncNamespaceLabel: namespace,
		syncNameLabel:      name,
		syncKindLabel:      kind,
	}
}

// skipForAuth: auth types that need no Secret (SkipForAuth).
func skipForAuth(auth string) bool {
	switch auth {
	case authNone, authGCENode, authGCPServiceAccount, authK8sServiceAccount:
		return true
	}
	return false
}

// membership is the part of the fleet Membership the manager uses.
type membership struct {
	WorkloadIdentityPool string `json:"workload_identity_pool,omitempty"`
	IdentityProvider     string `json:"identity_provider,omitempty"`
}

// useFWIAuth: fleet Workload Identity credentials are injected for gcpserviceaccount/k8sserviceaccount when the
// cluster's Membership has both a pool and a provider.
func useFWIAuth(auth string, m *membership) bool {
	return (auth == authGCPServiceAccount || auth == authK8sServiceAccount) &&
		m != nil && m.IdentityProvider != "" && m.WorkloadIdentityPool != ""
}
