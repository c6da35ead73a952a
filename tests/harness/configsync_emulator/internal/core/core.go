// Package core holds the few facts every part of the emulator shares: Config Sync's API group and resources, the
// reconciler names (Config Sync's pkg/core/names.go), and the way a part reaches the API server.
package core

import (
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

const (
	// SystemNamespace is where RootSyncs, reconcilers and their service accounts live.
	SystemNamespace = "config-management-system"
	// RootSyncKind and RepoSyncKind are the two sync kinds.
	RootSyncKind = "RootSync"
	RepoSyncKind = "RepoSync"
	// RootSyncDefaultName and RepoSyncDefaultName get the short reconciler names.
	RootSyncDefaultName = "root-sync"
	RepoSyncDefaultName = "repo-sync"
	// RootScope is the SCOPE of a root reconciler (a RepoSync's scope is its namespace).
	RootScope = ":root"
	// Version is the Config Sync release the emulator stands in for.
	Version = "v1.24.3"
)

var (
	RootSyncGVR      = schema.GroupVersionResource{Group: "configsync.gke.io", Version: "v1beta1", Resource: "rootsyncs"}
	RepoSyncGVR      = schema.GroupVersionResource{Group: "configsync.gke.io", Version: "v1beta1", Resource: "reposyncs"}
	ResourceGroupGVR = schema.GroupVersionResource{Group: "kpt.dev", Version: "v1alpha1", Resource: "resourcegroups"}
	MembershipGVR    = schema.GroupVersionResource{Group: "hub.gke.io", Version: "v1", Resource: "memberships"}
)

// SyncGVR is the resource of a sync kind.
func SyncGVR(kind string) schema.GroupVersionResource {
	if kind == RootSyncKind {
		return RootSyncGVR
	}
	return RepoSyncGVR
}

// RootReconcilerName is root-reconciler, or root-reconciler-NAME for a RootSync not named root-sync.
func RootReconcilerName(name string) string {
	if name == RootSyncDefaultName {
		return "root-reconciler"
	}
	return "root-reconciler-" + name
}

// NsReconcilerName is ns-reconciler-NS, or ns-reconciler-NS-NAME-LEN(NAME) for a RepoSync not named repo-sync.
func NsReconcilerName(namespace, name string) string {
	if name == RepoSyncDefaultName {
		return "ns-reconciler-" + namespace
	}
	return fmt.Sprintf("ns-reconciler-%s-%s-%d", namespace, name, len(name))
}

// ReconcilerName is the reconciler (Deployment and KSA) name of a sync object.
func ReconcilerName(kind, namespace, name string) string {
	if kind == RootSyncKind {
		return RootReconcilerName(name)
	}
	return NsReconcilerName(namespace, name)
}

// RestConfig reads $KUBECONFIG (or the in-cluster config), as Config Sync's binaries do outside a cluster.
func RestConfig() (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	config, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		if inCluster, inErr := rest.InClusterConfig(); inErr == nil {
			return inCluster, nil
		}
		return nil, fmt.Errorf("no Kubernetes configuration (KUBECONFIG=%q): %w", os.Getenv("KUBECONFIG"), err)
	}
	config.QPS, config.Burst = 50, 100
	return config, nil
}

// Clients are the typed and dynamic clients of one identity.
type Clients struct {
	Config  *rest.Config
	Typed   kubernetes.Interface
	Dynamic dynamic.Interface
}

// NewClients builds both clients from one rest config.
func NewClients(config *rest.Config) (*Clients, error) {
	typed, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(config)
	if err != nil {
		return nil, err
	}
	return &Clients{Config: config, Typed: typed, Dynamic: dyn}, nil
}
