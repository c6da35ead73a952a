package nomos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/klog/v2"
	"sigs.k8s.io/cli-utils/pkg/flowcontrol"

	"configsync.test/emulator/internal/core"
)

// The clusters of the kubeconfig (pkg/client/restconfig/config.go) and the clients nomos builds for each
// (cmd/nomos/status/client.go ClusterClients).

var (
	configManagementGVR = schema.GroupVersionResource{Group: "configmanagement.gke.io", Version: "v1", Resource: "configmanagements"}
	crdGVR              = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
)

// kubeConfigPath is $KUBECONFIG, else ~/.kube/config.
func kubeConfigPath() (string, error) {
	if env := os.Getenv("KUBECONFIG"); env != "" {
		return env, nil
	}
	u, err := user.Current()
	if err != nil {
		return "", fmt.Errorf("failed to get current user: %w", err)
	}
	return filepath.Join(u.HomeDir, ".kube", "config"), nil
}

func rawConfig() (*clientcmdapi.Config, *clientcmd.ClientConfigLoadingRules, error) {
	path, err := kubeConfigPath()
	if err != nil {
		return nil, nil, fmt.Errorf("while getting config path: %w", err)
	}
	rules := &clientcmd.ClientConfigLoadingRules{Precedence: filepath.SplitList(path)}
	raw, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).RawConfig()
	if err != nil {
		return nil, nil, fmt.Errorf("while building client config: %w", err)
	}
	return &raw, rules, nil
}

func currentContextName() (string, error) {
	raw, _, err := rawConfig()
	if err != nil {
		return "", err
	}
	return raw.CurrentContext, nil
}

// allKubectlConfigs is restconfig.AllKubectlConfigs: a rest config per wanted context (all when wanted is nil).
func allKubectlConfigs(timeout time.Duration, wanted []string) (map[string]*rest.Config, error) {
	raw, rules, err := rawConfig()
	if err != nil {
		return nil, err
	}
	configs := map[string]*rest.Config{}
	if len(raw.Contexts) == 0 {
		return configs, nil
	}
	contexts := map[string]bool{}
	if wanted == nil {
		for name := range raw.Contexts {
			contexts[name] = true
		}
	} else {
		for _, name := range wanted {
			if _, ok := raw.Contexts[name]; ok {
				contexts[name] = true
			}
		}
	}
	var bad []string
	for name := range contexts {
		cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: name}).ClientConfig()
		if err != nil {
			bad = append(bad, fmt.Sprintf("%q: %v", name, err))
			continue
		}
		updateQPS(cfg)
		if timeout > 0 {
			cfg.Timeout = timeout
		}
		configs[name] = cfg
	}
	if len(bad) > 0 {
		return configs, fmt.Errorf("failed to build configs:\n%s", strings.Join(bad, "\n"))
	}
	return configs, nil
}

// updateQPS is restconfig.UpdateQPS: no client-side throttling when the API server has priority and fairness.
func updateQPS(cfg *rest.Config) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	enabled, err := flowcontrol.IsEnabled(ctx, cfg)
	if err != nil {
		klog.Warningf("Failed to query apiserver to check for flow control enablement: %v", err)
	}
	if enabled {
		cfg.QPS, cfg.Burst = -1, -1
		klog.V(1).Infof("Flow control enabled on apiserver: client-side throttling QPS set to %.0f (burst: %d)", cfg.QPS, cfg.Burst)
		return
	}
	if cfg.QPS >= 0 && cfg.QPS < 30 {
		cfg.QPS = 30
	}
	if cfg.Burst >= 0 && cfg.Burst < 60 {
		cfg.Burst = 60
	}
	klog.V(1).Infof("Flow control disabled on apiserver: client-side throttling QPS set to %.0f (burst: %d)", cfg.QPS, cfg.Burst)
}

// clusterClients is ClusterClients: a client for every reachable cluster, nil for the others.
func clusterClients(ctx context.Context, timeout time.Duration, contexts []string) (map[string]cluster, error) {
	configs, err := allKubectlConfigs(timeout, contexts)
	if configs == nil {
		return nil, fmt.Errorf("failed to create client configs: %w", err)
	}
	if err != nil {
		fmt.Println(err)
	}
	var (
		mu          sync.Mutex
		wg          sync.WaitGroup
		unreachable bool
	)
	clients := map[string]cluster{}
	for name, cfg := range configs {
		typed, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			fmt.Printf("Failed to generate Kubernetes client for %q: %v\n", name, err)
			continue
		}
		dyn, err := dynamic.NewForConfig(cfg)
		if err != nil {
			fmt.Printf("Failed to generate runtime client for %q: %v\n", name, err)
			continue
		}
		wg.Add(1)
		go func(name string, c *apiCluster) {
			defer wg.Done()
			reachable := isReachable(ctx, c.typed, name)
			mu.Lock()
			defer mu.Unlock()
			if reachable {
				clients[name] = c
			} else {
				clients[name] = nil
				unreachable = true
			}
		}(name, &apiCluster{typed: typed, dynamic: dyn})
	}
	wg.Wait()
	if unreachable {
		klog.Flush()
		fmt.Println()
	}
	return clients, nil
}

// isReachable GETs the API server's root path, as nomos does through its clientset's REST client.
func isReachable(ctx context.Context, typed kubernetes.Interface, name string) bool {
	_, err := typed.Discovery().RESTClient().Get().DoRaw(ctx)
	if err == nil {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		fmt.Printf("%q is an invalid cluster\n", name)
	} else {
		fmt.Printf("Failed to connect to cluster %q: %v\n", name, err)
	}
	return false
}

// apiCluster is the cluster interface on a real API server.
type apiCluster struct {
	typed   kubernetes.Interface
	dynamic dynamic.Interface
}

func (a *apiCluster) isNotFound(err error) bool { return apierrors.IsNotFound(err) }

func (a *apiCluster) configManagement(ctx context.Context) (map[string]any, error) {
	obj, err := a.dynamic.Resource(configManagementGVR).Get(ctx, configManagementName, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return obj.Object, nil
}

func (a *apiCluster) deploymentExists(ctx context.Context, namespace, name string) error {
	_, err := a.typed.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
	return err
}

func (a *apiCluster) namespaceExists(ctx context.Context, name string) error {
	_, err := a.typed.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	return err
}

func (a *apiCluster) runningPods(ctx context.Context, namespace, selector string) (bool, error) {
	pods, err := a.typed.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return false, err
	}
	for _, p := range pods.Items {
		if p.Status.Phase == "Running" {
			return true, nil
		}
	}
	return false, nil
}

func (a *apiCluster) crdExists(ctx context.Context, name string) error {
	_, err := a.dynamic.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
	return err
}

func (a *apiCluster) listSyncs(ctx context.Context, kind, namespace string) ([]syncObject, error) {
	list, err := a.list(ctx, core.SyncGVR(kind), kind, namespace)
	if err != nil {
		return nil, err
	}
	out := make([]syncObject, 0, len(list))
	for _, item := range list {
		var s syncObject
		if err := decodeUnstructured(item, &s); err != nil {
			return nil, err
		}
		s.Kind = kind
		out = append(out, s)
	}
	return out, nil
}

func (a *apiCluster) listResourceGroups(ctx context.Context, namespace string) ([]resourceGroup, error) {
	list, err := a.list(ctx, core.ResourceGroupGVR, "ResourceGroup", namespace)
	if err != nil {
		return nil, err
	}
	out := make([]resourceGroup, 0, len(list))
	for _, item := range list {
		var rg resourceGroup
		if err := decodeUnstructured(item, &rg); err != nil {
			return nil, err
		}
		out = append(out, rg)
	}
	return out, nil
}

// list lists one resource; a resource the server does not serve fails as controller-runtime's REST mapper fails.
func (a *apiCluster) list(ctx context.Context, gvr schema.GroupVersionResource, kind, namespace string) ([]unstructured.Unstructured, error) {
	list, err := a.dynamic.Resource(gvr).Namespace(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("no matches for kind %q in version %q", kind, gvr.GroupVersion().String())
		}
		return nil, err
	}
	items := list.Items
	sort.SliceStable(items, func(i, j int) bool {
		if items[i].GetNamespace() != items[j].GetNamespace() {
			return items[i].GetNamespace() < items[j].GetNamespace()
		}
		return items[i].GetName() < items[j].GetName()
	})
	return items, nil
}

func decodeUnstructured(obj unstructured.Unstructured, into any) error {
	data, err := json.Marshal(obj.Object)
	if err != nil {
		return err
	}
	return decodeJSON(data, into)
}
