package resourcegroup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"configsync.test/emulator/internal/core"
)

// The controllers of the resource-group binary (pkg/resourcegroup/controllers): the Root controller follows every
// ResourceGroup Config Sync owns, records which objects it lists and watches their kinds; the watches keep each
// listed object's kstatus in the cache and signal the ResourceGroups listing it; those signals reach the
// ResourceGroup controller through the throttler (at most one reconcile per ResourceGroup per 30s, 30s after the
// first signal), which writes status.resourceStatuses, observedGeneration and the conditions.

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// typeResolver maps a GroupKind to the server's preferred version and resource (controllers/typeresolver).
type typeResolver struct {
	dc      discovery.DiscoveryInterface
	mu      sync.Mutex
	mapping map[schema.GroupKind]resolvedType
}

type resolvedType struct {
	gvk        schema.GroupVersionKind
	resource   string
	namespaced bool
}

func (t *typeResolver) refresh() error {
	lists, err := discovery.ServerPreferredResources(t.dc)
	if err != nil {
		var groupErr *discovery.ErrGroupDiscoveryFailed
		if !errors.As(err, &groupErr) || len(lists) == 0 {
			return fmt.Errorf("discovery of API resources failed: %w", err)
		}
		klog.Errorf("Failed to discover API resources; using cached results: %v", err)
	}
	mapping := map[schema.GroupKind]resolvedType{}
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range list.APIResources {
			if strings.Contains(r.Name, "/") {
				continue
			}
			gk := schema.GroupKind{Group: gv.Group, Kind: r.Kind}
			mapping[gk] = resolvedType{gvk: gk.WithVersion(gv.Version), resource: r.Name, namespaced: r.Namespaced}
		}
	}
	t.mu.Lock()
	t.mapping = mapping
	t.mu.Unlock()
	return nil
}

func (t *typeResolver) resolve(gk schema.GroupKind) (resolvedType, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.mapping[gk]
	return r, ok
}

// throttler lets through at most one signal per ResourceGroup per duration, duration after the first.
type throttler struct {
	mu       sync.Mutex
	pending  map[types.NamespacedName]bool
	duration time.Duration
	queue    workqueue.TypedRateLimitingInterface[types.NamespacedName]
}

func (t *throttler) signal(nn types.NamespacedName) {
	t.mu.Lock()
	if t.pending[nn] {
		t.mu.Unlock()
		klog.V(4).Info("skip it since there is an event in the throttler")
		return
	}
	t.pending[nn] = true
	t.mu.Unlock()
	go func() {
		time.Sleep(t.duration)
		t.queue.Add(nn)
		klog.V(4).Infof("add the request to the queue %v", nn)
		t.mu.Lock()
		delete(t.pending, nn)
		t.mu.Unlock()
	}()
}

// controller holds the Root controller, the watches and the ResourceGroup controller.
type controller struct {
	dynamic  dynamic.Interface
	resolver *typeResolver
	resMap   *resourceMap
	throttle *throttler

	rgInformer cache.SharedIndexInformer
	rootQueue  workqueue.TypedRateLimitingInterface[types.NamespacedName]
	rgQueue    workqueue.TypedRateLimitingInterface[types.NamespacedName]
	typeQueue  workqueue.TypedRateLimitingInterface[string]

	watchMu  sync.Mutex
	watchers map[schema.GroupVersionKind]*watcher
}

func newController(dyn dynamic.Interface, dc discovery.DiscoveryInterface, throttle time.Duration) *controller {
	rgQueue := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[types.NamespacedName]())
	return &controller{
		dynamic:   dyn,
		resolver:  &typeResolver{dc: dc},
		resMap:    newResourceMap(),
		throttle:  &throttler{pending: map[types.NamespacedName]bool{}, duration: throttle, queue: rgQueue},
		rootQueue: workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[types.NamespacedName]()),
		rgQueue:   rgQueue,
		typeQueue: workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
		watchers:  map[schema.GroupVersionKind]*watcher{},
	}
}

func ownedByConfigSync(obj any) bool {
	u, ok := obj.(*unstructured.Unstructured)
	return ok && u.GetLabels()[managedByKey] == managedByConfigSync
}

func keyOf(obj any) (types.NamespacedName, bool) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return types.NamespacedName{}, false
	}
	return types.NamespacedName{Namespace: u.GetNamespace(), Name: u.GetName()}, true
}

func unwrapDeleted(obj any) any {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		return d.Obj
	}
	return obj
}

func (c *controller) run(ctx context.Context) error {
	klog.Info("adding the type resolver")
	if err := c.resolver.refresh(); err != nil {
		return fmt.Errorf("unable to initialize the type resolver resource cache: %w", err)
	}
	factory := dynamicinformer.NewDynamicSharedInformerFactory(c.dynamic, 0)
	c.rgInformer = factory.ForResource(core.ResourceGroupGVR).Informer()
	enqueue := func(obj any) {
		if nn, ok := keyOf(obj); ok {
			c.rootQueue.Add(nn)
		}
	}
	klog.Info("adding the Root controller for group kpt")
	if _, err := c.rgInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if ownedByConfigSync(obj) {
				enqueue(obj)
			}
		},
		UpdateFunc: func(oldObj, newObj any) {
			if ownedByConfigSync(oldObj) || ownedByConfigSync(newObj) {
				enqueue(newObj)
			}
		},
		DeleteFunc: func(obj any) {
			if ownedByConfigSync(unwrapDeleted(obj)) {
				enqueue(obj)
			}
		},
	}); err != nil {
		return err
	}
	crdInformer := factory.ForResource(crdGVR).Informer()
	onCRD := func(obj any) {
		c.typeQueue.Add("crd")
		c.crdEvent(unwrapDeleted(obj))
	}
	if _, err := crdInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    onCRD,
		UpdateFunc: func(_, newObj any) { onCRD(newObj) },
		DeleteFunc: onCRD,
	}); err != nil {
		return err
	}
	klog.Info("adding the ResourceGroup controller for group kpt")
	factory.Start(ctx.Done())
	klog.Info("starting manager")
	if !cache.WaitForCacheSync(ctx.Done(), c.rgInformer.HasSynced, crdInformer.HasSynced) {
		return errors.New("failed to wait for caches to sync")
	}
	go c.worker(ctx, c.rootQueue, c.reconcileRoot)
	go c.worker(ctx, c.rgQueue, c.reconcileResourceGroup)
	go func() {
		for {
			key, shutdown := c.typeQueue.Get()
			if shutdown {
				return
			}
			if err := c.resolver.refresh(); err != nil {
				klog.Errorf("TypeResolver: %v", err)
				c.typeQueue.AddRateLimited(key)
			} else {
				c.typeQueue.Forget(key)
			}
			c.typeQueue.Done(key)
		}
	}()
	<-ctx.Done()
	c.rootQueue.ShutDown()
	c.rgQueue.ShutDown()
	c.typeQueue.ShutDown()
	c.stopAllWatches()
	return nil
}

func (c *controller) worker(ctx context.Context, q workqueue.TypedRateLimitingInterface[types.NamespacedName],
	reconcile func(context.Context, types.NamespacedName) error) {
	for {
		nn, shutdown := q.Get()
		if shutdown {
			return
		}
		if err := reconcile(ctx, nn); err != nil {
			klog.Errorf("Reconciler error for %v: %v", nn, err)
			q.AddRateLimited(nn)
		} else {
			q.Forget(nn)
		}
		q.Done(nn)
	}
}

// crdEvent: a CRD changed, so the cached status of its objects is dropped and their ResourceGroups signalled.
func (c *controller) crdEvent(obj any) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	group, _, _ := unstructured.NestedString(u.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(u.Object, "spec", "names", "kind")
	for _, res := range c.resMap.resourcesOfKind(schema.GroupKind{Group: group, Kind: kind}) {
		c.resMap.setStatus(res, nil)
		for _, g := range c.resMap.groups(res) {
			c.throttle.signal(g)
		}
	}
}

// reconcileRoot is the Root controller's Reconcile.
func (c *controller) reconcileRoot(ctx context.Context, nn types.NamespacedName) error {
	item, exists, err := c.rgInformer.GetStore().GetByKey(nn.String())
	if err != nil {
		return err
	}
	if !exists {
		klog.V(3).Infof("Skipping update event: ResourceGroup %v not found", nn)
		return c.forget(ctx, nn)
	}
	rg := item.(*unstructured.Unstructured)
	if rg.GetAnnotations()[statusModeKey] == statusDisabled {
		klog.V(3).Infof("Skipping update event: ResourceGroup %v status disabled", nn)
		_, status, err := decodeRG(rg)
		if err != nil {
			return err
		}
		if !statusEqual(status, Status{}) {
			obj := rg.DeepCopy()
			obj.Object["status"] = map[string]any{"observedGeneration": int64(0)}
			if _, err := c.dynamic.Resource(core.ResourceGroupGVR).Namespace(nn.Namespace).UpdateStatus(ctx, obj,
				metav1.UpdateOptions{FieldManager: FieldManager}); err != nil {
				return err
			}
		}
		c.updateWatches(ctx, c.resMap.reconcile(nn, nil, true))
		return nil
	}
	if rg.GetDeletionTimestamp() != nil {
		klog.V(3).Infof("Skipping update event: ResourceGroup %v being deleted", nn)
		return c.forget(ctx, nn)
	}
	spec, _, err := decodeRG(rg)
	if err != nil {
		return err
	}
	resources := append(append([]ObjMetadata{}, spec.Resources...), subgroupMetadata(spec.Subgroups)...)
	c.updateWatches(ctx, c.resMap.reconcile(nn, resources, false))
	klog.V(3).Infof("Sending update event for %v", nn)
	c.throttle.signal(nn)
	return nil
}

func (c *controller) forget(ctx context.Context, nn types.NamespacedName) error {
	c.updateWatches(ctx, c.resMap.reconcile(nn, nil, true))
	c.throttle.signal(nn)
	return nil
}

func decodeRG(rg *unstructured.Unstructured) (Spec, Status, error) {
	var spec Spec
	var status Status
	if raw, ok := rg.Object["spec"]; ok {
		if err := remarshal(raw, &spec); err != nil {
			return spec, status, fmt.Errorf("decoding spec of ResourceGroup %s/%s: %w", rg.GetNamespace(), rg.GetName(), err)
		}
	}
	if raw, ok := rg.Object["status"]; ok {
		if err := remarshal(raw, &status); err != nil {
			return spec, status, fmt.Errorf("decoding status of ResourceGroup %s/%s: %w", rg.GetNamespace(), rg.GetName(), err)
		}
	}
	return spec, status, nil
}

func remarshal(in, out any) error {
	data, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, out)
}

// reconcileResourceGroup is the ResourceGroup controller's Reconcile.
func (c *controller) reconcileResourceGroup(ctx context.Context, nn types.NamespacedName) error {
	rg, err := c.dynamic.Resource(core.ResourceGroupGVR).Namespace(nn.Namespace).Get(ctx, nn.Name, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			klog.V(3).Infof("ResourceGroup %v not found", nn)
			return nil
		}
		return err
	}
	if rg.GetDeletionTimestamp() != nil {
		klog.V(3).Infof("Skipping ResourceGroup %v status update: ResourceGroup being deleted", nn)
		return nil
	}
	spec, status, err := decodeRG(rg)
	if err != nil {
		return err
	}
	if status.ObservedGeneration != rg.GetGeneration() {
		klog.V(3).Infof("Skipping ResourceGroup %v status update: ResourceGroup status update pending by applier", nn)
		return nil
	}
	id := rg.GetLabels()[inventoryLabel]
	newStatus := endReconcilingStatus(id, spec, status, rg.GetGeneration(), func(res ObjMetadata) *cachedStatus {
		return c.lookup(ctx, res)
	}, func() time.Time { return time.Now().UTC() })
	if statusEqual(status, newStatus) {
		return nil
	}
	var raw map[string]any
	if err := remarshal(newStatus, &raw); err != nil {
		return err
	}
	rg.Object["status"] = raw
	if _, err := c.dynamic.Resource(core.ResourceGroupGVR).Namespace(nn.Namespace).UpdateStatus(ctx, rg,
		metav1.UpdateOptions{FieldManager: FieldManager}); err != nil {
		klog.Errorf("failed to update ResourceGroup %v: %v", nn, err)
		return err
	}
	klog.V(1).Infof("Updated the status of ResourceGroup %v", nn)
	return nil
}

// statusEqual compares two statuses as they are stored (times at second precision).
func statusEqual(a, b Status) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}

// lookup is the cached status of a listed object, or its live status read from the API server (then cached).
func (c *controller) lookup(ctx context.Context, res ObjMetadata) *cachedStatus {
	if cached := c.resMap.getStatus(res); cached != nil {
		return cached
	}
	t, ok := c.resolver.resolve(gkOf(res))
	if !ok {
		klog.V(4).Infof("Resource type unknown: %v", res)
		return &cachedStatus{Status: statusNotFound, bare: true}
	}
	gvr := t.gvk.GroupVersion().WithResource(t.resource)
	var ri dynamic.ResourceInterface = c.dynamic.Resource(gvr)
	if t.namespaced {
		ri = c.dynamic.Resource(gvr).Namespace(res.Namespace)
	}
	obj, err := ri.Get(ctx, res.Name, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return &cachedStatus{Status: statusNotFound, bare: true}
		}
		klog.Errorf("Resource object status unknown: failed to get resource object from API server to compute status: %v (%v)", err, res)
		return &cachedStatus{Status: statusUnknown, bare: true}
	}
	cached := computeCachedStatus(obj, time.Now().UTC())
	c.resMap.setStatus(res, cached)
	return cached
}

// updateWatches starts a watch for each listed kind the server serves and stops the others.
func (c *controller) updateWatches(ctx context.Context, gks []schema.GroupKind) {
	want := map[schema.GroupVersionKind]resolvedType{}
	for _, gk := range gks {
		if t, ok := c.resolver.resolve(gk); ok {
			want[t.gvk] = t
		}
	}
	c.watchMu.Lock()
	defer c.watchMu.Unlock()
	started, stopped := 0, 0
	for gvk, w := range c.watchers {
		if _, keep := want[gvk]; !keep {
			w.stop()
			delete(c.watchers, gvk)
			stopped++
		}
	}
	for gvk, t := range want {
		if _, ok := c.watchers[gvk]; ok {
			continue
		}
		w := &watcher{c: c, t: t}
		w.ctx, w.cancel = context.WithCancel(ctx)
		c.watchers[gvk] = w
		started++
		go func(gvk schema.GroupVersionKind, w *watcher) {
			if err := w.run(); err != nil {
				klog.Warningf("Watcher errored for %s: %v", gvk, err)
				c.watchMu.Lock()
				if c.watchers[gvk] == w {
					delete(c.watchers, gvk)
				}
				c.watchMu.Unlock()
			}
		}(gvk, w)
	}
	if started > 0 || stopped > 0 {
		klog.Infof("The watch manager made new progress: started %d new watches, and stopped %d watches", started, stopped)
	}
}

func (c *controller) stopAllWatches() {
	c.watchMu.Lock()
	defer c.watchMu.Unlock()
	for gvk, w := range c.watchers {
		w.stop()
		delete(c.watchers, gvk)
	}
}

// watcher follows one kind (controllers/watch/filteredwatcher.go): each event of a listed object updates its cached
// status and signals the ResourceGroups listing it.
type watcher struct {
	c      *controller
	t      resolvedType
	ctx    context.Context
	cancel context.CancelFunc
}

func (w *watcher) stop() { w.cancel() }

func (w *watcher) run() error {
	gvr := w.t.gvk.GroupVersion().WithResource(w.t.resource)
	resourceVersion := ""
	retries := 0
	for {
		if w.ctx.Err() != nil {
			return nil
		}
		timeout := int64((5 * time.Minute).Seconds() * (rand.Float64() + 1.0))
		base, err := w.c.dynamic.Resource(gvr).Watch(w.ctx, metav1.ListOptions{
			AllowWatchBookmarks: true, ResourceVersion: resourceVersion, TimeoutSeconds: &timeout,
		})
		if err != nil {
			if w.ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("failed to start watch for %s: %v", w.t.gvk, err)
		}
		klog.V(3).Infof("(Re)starting watch for %s at resource version %q", w.t.gvk, resourceVersion)
		for event := range base.ResultChan() {
			newVersion, err := w.handle(event)
			if err != nil && w.ctx.Err() != nil {
				base.Stop()
				return nil // stopped
			}
			if err != nil {
				if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
					klog.Infof("Watch for %s at resource version %q closed with: %v", w.t.gvk, resourceVersion, err)
					resourceVersion = ""
				} else {
					klog.Errorf("Watch for %s at resource version %q ended with: %v", w.t.gvk, resourceVersion, err)
				}
				retries++
				n := retries
				if n > 18 {
					n = 18
				}
				time.Sleep(time.Duration(math.Pow(2, float64(n))) * time.Millisecond)
				break
			}
			retries = 0
			if newVersion != "" {
				resourceVersion = newVersion
			}
		}
		base.Stop()
	}
}

func (w *watcher) handle(event watch.Event) (string, error) {
	deleted := false
	switch event.Type {
	case watch.Added, watch.Modified:
	case watch.Deleted:
		deleted = true
	case watch.Bookmark:
		if u, ok := event.Object.(*unstructured.Unstructured); ok {
			return u.GetResourceVersion(), nil
		}
		return "", nil
	case watch.Error:
		return "", apierrors.FromObject(event.Object)
	default:
		return "", nil
	}
	obj, ok := event.Object.(*unstructured.Unstructured)
	if !ok {
		return "", nil
	}
	id := ObjMetadata{Namespace: obj.GetNamespace(), Name: obj.GetName(), Group: w.t.gvk.Group, Kind: w.t.gvk.Kind}
	if !w.c.resMap.hasResource(id) {
		return obj.GetResourceVersion(), nil
	}
	if deleted {
		klog.Infof("updating the reconciliation status: %v: %v", id, statusNotFound)
		w.c.resMap.setStatus(id, &cachedStatus{Status: statusNotFound})
	} else {
		klog.Infof("Received watch event for created/updated object %q", id)
		s := computeCachedStatus(obj, time.Now().UTC())
		klog.Infof("updating the reconciliation status: %v: %v", id, s.Status)
		w.c.resMap.setStatus(id, s)
	}
	for _, g := range w.c.resMap.groups(id) {
		klog.Infof("sending a generic event from watcher for %v", g)
		w.c.throttle.signal(g)
	}
	return obj.GetResourceVersion(), nil
}
