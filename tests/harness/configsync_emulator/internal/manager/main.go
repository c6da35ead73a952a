package manager

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"configsync.test/emulator/internal/core"
)

// pollingPeriod is controllers.PollingPeriod: the duration in an environment variable, or the default.
func pollingPeriod(env string, def time.Duration) (time.Duration, error) {
	val, ok := os.LookupEnv(env)
	if !ok {
		return def, nil
	}
	d, err := time.ParseDuration(val)
	if err != nil {
		return 0, fmt.Errorf("failed to parse environment variable %q, got value: %v, want err: nil: %w", env, val, err)
	}
	return d, nil
}

// knownFlags keeps only the arguments naming flags defined in fs (and their values), so that unknown glog-style or
// controller-runtime flags are ignored with a warning instead of failing the start.
func knownFlags(fs *flag.FlagSet, args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if !strings.HasPrefix(arg, "-") || arg == "-" || arg == "--" {
			out = append(out, args[i:]...)
			break
		}
		name := strings.TrimLeft(arg, "-")
		hasValue := strings.Contains(name, "=")
		if hasValue {
			name = name[:strings.Index(name, "=")]
		}
		f := fs.Lookup(name)
		if f == nil {
			fmt.Fprintf(os.Stderr, "reconciler-manager: ignoring unknown flag %s\n", arg)
			if !hasValue && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				i++ // its value
			}
			continue
		}
		out = append(out, arg)
		if !hasValue {
			if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
				continue
			}
			if i+1 < len(args) {
				i++
				out = append(out, args[i])
			}
		}
	}
	return out
}

type options struct {
	clusterName      string
	reconcilerPeriod time.Duration
	hydrationPeriod  time.Duration
	kubeconfig       string
}

// newFlagSet defines the real binary's flags (cmd/reconciler-manager, controller-runtime's --kubeconfig, klog's).
func newFlagSet(o *options) *flag.FlagSet {
	fs := flag.NewFlagSet("reconciler-manager", flag.ContinueOnError)
	klog.InitFlags(fs)
	fs.StringVar(&o.clusterName, "cluster-name", os.Getenv("CLUSTER_NAME"), "Cluster name to use for Cluster selection")
	fs.DurationVar(&o.reconcilerPeriod, "reconciler-polling-period", o.reconcilerPeriod,
		"Period of time between checking the filesystem for source updates to sync.")
	fs.DurationVar(&o.hydrationPeriod, "hydration-polling-period", o.hydrationPeriod,
		"Period of time between checking the filesystem for source updates to render.")
	fs.String("metrics-addr", ":8080", "The address the metric endpoint binds to.")
	fs.Bool("enable-leader-election", false, "Enable leader election for controller manager.")
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "Paths to a kubeconfig. Only required if out-of-cluster.")
	return fs
}

// Main runs the reconciler-manager until SIGINT/SIGTERM.
func Main(args []string) int {
	o := &options{}
	var err error
	if o.reconcilerPeriod, err = pollingPeriod("RECONCILER_POLLING_PERIOD", defaultReconcilerPollingPeriod); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if o.hydrationPeriod, err = pollingPeriod("HYDRATION_POLLING_PERIOD", defaultHydrationPollingPeriod); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fs := newFlagSet(o)
	if err := fs.Parse(knownFlags(fs, args)); err != nil {
		return 2
	}
	if o.kubeconfig != "" {
		_ = os.Setenv("KUBECONFIG", o.kubeconfig)
	}
	clusterName, reconcilerPeriod, hydrationPeriod := &o.clusterName, o.reconcilerPeriod, o.hydrationPeriod
	setupLog := newLogger("logger", "setup")
	setupLog.info(fmt.Sprintf("running with flags --cluster-name=%s; --reconciler-polling-period=%s; --hydration-polling-period=%s",
		*clusterName, reconcilerPeriod, hydrationPeriod))

	config, err := core.RestConfig()
	if err != nil {
		setupLog.error(err, "unable to get kubeconfig")
		return 1
	}
	clients, err := core.NewClients(config)
	if err != nil {
		setupLog.error(err, "failed to create clients")
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	m := &Manager{
		clients:                 clients,
		clusterName:             *clusterName,
		reconcilerPollingPeriod: reconcilerPeriod,
		hydrationPollingPeriod:  hydrationPeriod,
		queues:                  map[string]workqueue.TypedRateLimitingInterface[syncKey]{},
		stores:                  map[string]cache.Store{},
		kindLog: map[string]logger{
			core.RootSyncKind: newLogger("logger", "controllers.RootSync"),
			core.RepoSyncKind: newLogger("logger", "controllers.RepoSync"),
		},
	}
	m.watchFleetMembership = m.fleetMembershipCRDExists(ctx, setupLog)
	if m.watchFleetMembership {
		m.refreshMembership(ctx)
	}
	if err := m.run(ctx, setupLog); err != nil {
		setupLog.error(err, "problem running manager")
		return 1
	}
	return 0
}

// fleetMembershipCRDExists is checked once at start-up, as the real manager does.
func (m *Manager) fleetMembershipCRDExists(ctx context.Context, log logger) bool {
	_, err := m.clients.Dynamic.Resource(crdGVR).Get(ctx, "memberships.hub.gke.io", metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			log.info("The memberships CRD doesn't exist")
		} else {
			log.error(err, "failed to GET the CRD for the memberships resource from the cluster")
		}
		return false
	}
	return true
}

// refreshMembership reads the Membership named "membership" (nil when it does not exist).
func (m *Manager) refreshMembership(ctx context.Context) bool {
	obj, err := m.clients.Dynamic.Resource(core.MembershipGVR).Get(ctx, fleetMembershipName, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			m.setMembership(nil)
			return true
		}
		klog.ErrorS(err, "Fleet Membership get failed")
		return false
	}
	ms := &membership{}
	if spec, ok := obj.Object["spec"].(map[string]interface{}); ok {
		data, _ := json.Marshal(spec)
		_ = json.Unmarshal(data, ms)
	}
	m.setMembership(ms)
	return true
}

func (m *Manager) run(ctx context.Context, setupLog logger) error {
	for _, kind := range []string{core.RootSyncKind, core.RepoSyncKind} {
		m.queues[kind] = workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[syncKey](),
			workqueue.TypedRateLimitingQueueConfig[syncKey]{Name: kind})
	}
	defer func() {
		for _, q := range m.queues {
			q.ShutDown()
		}
	}()

	dynFactory := dynamicinformer.NewDynamicSharedInformerFactory(m.clients.Dynamic, 0)
	systemFactory := informers.NewSharedInformerFactoryWithOptions(m.clients.Typed, 0, informers.WithNamespace(core.SystemNamespace))
	clusterFactory := informers.NewSharedInformerFactory(m.clients.Typed, 0)

	for _, kind := range []string{core.RootSyncKind, core.RepoSyncKind} {
		kind := kind
		informer := dynFactory.ForResource(core.SyncGVR(kind)).Informer()
		m.stores[kind] = informer.GetStore()
		enqueue := func(obj interface{}) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if u, ok := obj.(*unstructured.Unstructured); ok {
				m.enqueue(kind, u.GetNamespace(), u.GetName())
			}
		}
		if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    enqueue,
			UpdateFunc: func(_, obj interface{}) { enqueue(obj) },
			DeleteFunc: enqueue,
		}); err != nil {
			return err
		}
	}
	handler := func(mapFn func(obj interface{})) cache.ResourceEventHandler {
		return cache.ResourceEventHandlerFuncs{
			AddFunc: mapFn,
			UpdateFunc: func(old, obj interface{}) {
				if o, ok := old.(metav1.Object); ok {
					if n, ok := obj.(metav1.Object); ok && o.GetResourceVersion() == n.GetResourceVersion() {
						return
					}
				}
				mapFn(obj)
			},
			DeleteFunc: func(obj interface{}) {
				if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
					obj = tomb.Obj
				}
				mapFn(obj)
			},
		}
	}
	for _, informer := range []cache.SharedIndexInformer{
		systemFactory.Apps().V1().Deployments().Informer(),
		systemFactory.Core().V1().ServiceAccounts().Informer(),
	} {
		if _, err := informer.AddEventHandler(handler(m.mapReconcilerObject)); err != nil {
			return err
		}
	}
	if _, err := clusterFactory.Rbac().V1().ClusterRoleBindings().Informer().AddEventHandler(handler(m.mapClusterRoleBinding)); err != nil {
		return err
	}
	if _, err := clusterFactory.Rbac().V1().RoleBindings().Informer().AddEventHandler(handler(m.mapRoleBinding)); err != nil {
		return err
	}
	if _, err := clusterFactory.Core().V1().Secrets().Informer().AddEventHandler(handler(m.mapSecret)); err != nil {
		return err
	}
	if m.watchFleetMembership {
		informer := dynFactory.ForResource(core.MembershipGVR).Informer()
		onMembership := func(obj interface{}) {
			if !m.refreshMembership(ctx) {
				return
			}
			for _, kind := range []string{core.RootSyncKind, core.RepoSyncKind} {
				items := m.stores[kind].List()
				if len(items) > 0 {
					m.kindLog[kind].info(fmt.Sprintf("Changes to hub.gke.io/v1.Membership(*v1.Membership)[/%s] triggered reconciliations for %d %s objects.",
						fleetMembershipName, len(items), kind))
				}
				for _, item := range items {
					if u, ok := item.(*unstructured.Unstructured); ok {
						m.enqueue(kind, u.GetNamespace(), u.GetName())
					}
				}
			}
		}
		if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: onMembership,
			UpdateFunc: func(old, obj interface{}) {
				o, _ := old.(*unstructured.Unstructured)
				n, _ := obj.(*unstructured.Unstructured)
				if o != nil && n != nil && o.GetGeneration() == n.GetGeneration() && o.GetGeneration() != 0 {
					return // GenerationChangedPredicate
				}
				onMembership(obj)
			},
			DeleteFunc: onMembership,
		}); err != nil {
			return err
		}
	}

	dynFactory.Start(ctx.Done())
	systemFactory.Start(ctx.Done())
	clusterFactory.Start(ctx.Done())
	for gvr, ok := range dynFactory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("cache for %s did not sync", gvr)
		}
	}
	for typ, ok := range systemFactory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("cache for %v did not sync", typ)
		}
	}
	for typ, ok := range clusterFactory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("cache for %v did not sync", typ)
		}
	}
	setupLog.info("RootSync controller registration successful")
	setupLog.info("RepoSync controller registration successful")
	setupLog.info("starting manager")
	for _, kind := range []string{core.RootSyncKind, core.RepoSyncKind} {
		go m.runWorker(ctx, kind)
	}
	<-ctx.Done()
	return nil
}

func (m *Manager) syncsOf(kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, item := range m.stores[kind].List() {
		if u, ok := item.(*unstructured.Unstructured); ok {
			out = append(out, u)
		}
	}
	return out
}

func objectSummary(obj interface{}) (string, metav1.Object) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return fmt.Sprintf("apps/v1.Deployment(*v1.Deployment)[%s/%s]", o.Namespace, o.Name), o
	case *corev1.ServiceAccount:
		return fmt.Sprintf("v1.ServiceAccount(*v1.ServiceAccount)[%s/%s]", o.Namespace, o.Name), o
	case *corev1.Secret:
		return fmt.Sprintf("v1.Secret(*v1.Secret)[%s/%s]", o.Namespace, o.Name), o
	case *rbacv1.ClusterRoleBinding:
		return fmt.Sprintf("rbac.authorization.k8s.io/v1.ClusterRoleBinding(*v1.ClusterRoleBinding)[/%s]", o.Name), o
	case *rbacv1.RoleBinding:
		return fmt.Sprintf("rbac.authorization.k8s.io/v1.RoleBinding(*v1.RoleBinding)[%s/%s]", o.Namespace, o.Name), o
	}
	return "", nil
}

func (m *Manager) requeue(kind, summary, namespace, name string) {
	m.kindLog[kind].info(fmt.Sprintf("Changes to %s triggered a reconciliation for the %s (%s/%s).", summary, kind, namespace, name))
	m.enqueue(kind, namespace, name)
}

// mapReconcilerObject maps a reconciler Deployment or ServiceAccount in config-management-system to its sync.
func (m *Manager) mapReconcilerObject(obj interface{}) {
	summary, o := objectSummary(obj)
	if o == nil || o.GetNamespace() != core.SystemNamespace {
		return
	}
	name := o.GetName()
	switch {
	case strings.HasPrefix(name, rootReconcilerPrefix):
		for _, rs := range m.syncsOf(core.RootSyncKind) {
			if core.RootReconcilerName(rs.GetName()) == name {
				m.requeue(core.RootSyncKind, summary, rs.GetNamespace(), rs.GetName())
				return
			}
		}
	case strings.HasPrefix(name, nsReconcilerPrefix):
		for _, rs := range m.syncsOf(core.RepoSyncKind) {
			if core.NsReconcilerName(rs.GetNamespace(), rs.GetName()) == name {
				m.requeue(core.RepoSyncKind, summary, rs.GetNamespace(), rs.GetName())
				return
			}
		}
	}
}

// mapClusterRoleBinding: the shared RootSync bindings requeue every RootSync; a roleRef binding its RootSync.
func (m *Manager) mapClusterRoleBinding(obj interface{}) {
	summary, o := objectSummary(obj)
	if o == nil {
		return
	}
	name := o.GetName()
	if !strings.HasPrefix(name, rootReconcilerPrefix) && !strings.HasPrefix(name, rootSyncBaseClusterRole) {
		return
	}
	var names []string
	for _, rs := range m.syncsOf(core.RootSyncKind) {
		if name == rootSyncLegacyCRBName || name == rootSyncBaseCRBName {
			names = append(names, rs.GetName())
			m.enqueue(core.RootSyncKind, rs.GetNamespace(), rs.GetName())
		} else if strings.HasPrefix(name, core.RootReconcilerName(rs.GetName())) {
			m.requeue(core.RootSyncKind, summary, rs.GetNamespace(), rs.GetName())
			return
		}
	}
	if len(names) > 0 {
		m.kindLog[core.RootSyncKind].info(fmt.Sprintf("Changes to %s triggers a reconciliation for the RootSync(s) (%s)", summary, strings.Join(names, ", ")))
	}
}

// mapRoleBinding: a RootSync's roleRef RoleBindings, and the shared RepoSync RoleBinding of a namespace.
func (m *Manager) mapRoleBinding(obj interface{}) {
	summary, o := objectSummary(obj)
	if o == nil {
		return
	}
	name, namespace := o.GetName(), o.GetNamespace()
	if strings.HasPrefix(name, rootReconcilerPrefix) {
		for _, rs := range m.syncsOf(core.RootSyncKind) {
			if strings.HasPrefix(name, core.RootReconcilerName(rs.GetName())) {
				m.requeue(core.RootSyncKind, summary, rs.GetNamespace(), rs.GetName())
				break
			}
		}
	}
	if name != repoSyncBaseRBName {
		return
	}
	var names []string
	for _, rs := range m.syncsOf(core.RepoSyncKind) {
		if rs.GetNamespace() == namespace {
			names = append(names, rs.GetName())
			m.enqueue(core.RepoSyncKind, rs.GetNamespace(), rs.GetName())
		}
	}
	if len(names) > 0 {
		m.kindLog[core.RepoSyncKind].info(fmt.Sprintf("Changes to %s triggers a reconciliation for the RepoSync(s) (%s)", summary, strings.Join(names, ", ")))
	}
}

// mapSecret requeues the syncs that reference a Secret (secretRef, caCertSecretRef) or own a copy of it.
func (m *Manager) mapSecret(obj interface{}) {
	summary, o := objectSummary(obj)
	if o == nil {
		return
	}
	name, namespace := o.GetName(), o.GetNamespace()
	referenced := func(u *unstructured.Unstructured) (*syncObject, bool) {
		s, err := parseSync(u.GetKind(), u)
		if err != nil {
			return nil, false
		}
		for _, ref := range []*secretRef{
			gitSecret(s.Spec.Git, true), gitSecret(s.Spec.Git, false),
			ociSecret(s.Spec.Oci, true), ociSecret(s.Spec.Oci, false),
			helmSecret(s.Spec.Helm, true), helmSecret(s.Spec.Helm, false),
		} {
			if ref != nil && ref.Name == name {
				return s, true
			}
		}
		return s, false
	}
	if namespace == core.SystemNamespace && !strings.HasPrefix(name, nsReconcilerPrefix+"-") {
		for _, rs := range m.syncsOf(core.RootSyncKind) {
			if _, ok := referenced(rs); ok {
				m.requeue(core.RootSyncKind, summary, rs.GetNamespace(), rs.GetName())
			}
		}
	}
	for _, rs := range m.syncsOf(core.RepoSyncKind) {
		if namespace == core.SystemNamespace {
			if !strings.HasPrefix(name, nsReconcilerPrefix) {
				break
			}
			s, err := parseSync(core.RepoSyncKind, rs)
			if err != nil {
				continue
			}
			_, _, secret, caCert := s.sourceAuth()
			prefix := s.reconcilerName() + "-"
			if (secret != "" && name == prefix+secret) || (caCert != "" && name == prefix+caCert) {
				m.requeue(core.RepoSyncKind, summary, rs.GetNamespace(), rs.GetName())
				return
			}
			continue
		}
		if rs.GetNamespace() != namespace {
			continue
		}
		if _, ok := referenced(rs); ok {
			m.requeue(core.RepoSyncKind, summary, rs.GetNamespace(), rs.GetName())
		}
	}
}

func gitSecret(g *gitSpec, auth bool) *secretRef {
	if g == nil {
		return nil
	}
	if auth {
		return g.SecretRef
	}
	return g.CACertSecretRef
}

func ociSecret(o *ociSpec, auth bool) *secretRef {
	if o == nil {
		return nil
	}
	if auth {
		return o.SecretRef
	}
	return o.CACertSecretRef
}

func helmSecret(h *helmSpec, auth bool) *secretRef {
	if h == nil {
		return nil
	}
	if auth {
		return h.SecretRef
	}
	return h.CACertSecretRef
}
