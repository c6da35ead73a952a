// Package reconciler plays Config Sync v1.24.3's reconciler container (cmd/reconciler/main.go, pkg/reconciler,
// pkg/parse, pkg/applier, pkg/reconciler/finalizer) for oci sources: it reads what oci-sync fetched, parses and
// validates the configuration, applies it with server-side apply and a ResourceGroup inventory, and reports the
// RootSync/RepoSync status as the real one does.
//
// Out of scope: the remediator (drift between syncs is only corrected by the next full sync, every
// --full-sync-period), the admission webhook, rendering with the hydration-controller, NamespaceSelectors in dynamic
// mode, metrics and the otel exporter.
package reconciler

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"k8s.io/klog/v2"

	"configsync.test/emulator/internal/core"
)

var namespaceGVR = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}

type options struct {
	clusterName, scope, syncName, reconcilerName    string
	sourceType, sourceRepo, sourceBranch, sourceRev string
	syncDir, syncDirOS                              string
	sourceDir, repoRoot, hydratedRoot, hydratedLink string
	reconcilerSignals                               string
	fullSyncPeriod, pollingPeriod                   time.Duration
	statusUpdatePeriod                              time.Duration
	sourceFormat, namespaceStrategy, statusMode     string
	reconcileTimeout, apiServerTimeout              time.Duration
	renderingEnabled                                bool
}

func logf(format string, a ...interface{}) { klog.InfoDepth(1, fmt.Sprintf(format, a...)) }

func jsonMarshal(v interface{}) ([]byte, error) { return json.Marshal(v) }

func envBool(name string, def bool) bool {
	if v, ok := os.LookupEnv(name); ok {
		b, err := strconv.ParseBool(v)
		if err == nil {
			return b
		}
	}
	return def
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

// Main is `reconciler [flags]`, with the flags and environment of cmd/reconciler/main.go.
func Main(args []string) int {
	fs := flag.NewFlagSet("reconciler", flag.ContinueOnError)
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	klogFlags.VisitAll(func(f *flag.Flag) { fs.Var(f.Value, f.Name, f.Usage) })

	clusterName := fs.String("cluster-name", os.Getenv("CLUSTER_NAME"), "Cluster name to use for Cluster selection")
	scopeStr := fs.String("scope", os.Getenv("SCOPE"), "Scope of the reconciler, either a namespace or ':root'.")
	syncName := fs.String("sync-name", os.Getenv("SYNC_NAME"), "Name of the RootSync or RepoSync object.")
	reconcilerName := fs.String("reconciler-name", os.Getenv("RECONCILER_NAME"), "Name of the reconciler Deployment.")
	sourceType := fs.String("source-type", os.Getenv("SOURCE_TYPE"), "The type of repo being synced, must be git or oci or helm.")
	sourceRepo := fs.String("source-repo", os.Getenv("SOURCE_REPO"), "The URL of the git or OCI repo being synced.")
	sourceBranch := fs.String("source-branch", os.Getenv("SOURCE_BRANCH"), "The branch of the git repo being synced.")
	sourceRev := fs.String("source-rev", os.Getenv("SOURCE_REV"), "The reference we're syncing to in the repo.")
	syncDir := fs.String("sync-dir", os.Getenv("SYNC_DIR"), "The relative path of the root configuration directory within the repo.")
	sourceDir := fs.String("source-dir", "/repo/source/rev", "The absolute path to the clone of the source repo.")
	repoRoot := fs.String("repo-root", "/repo", "The absolute path to the repo root directory.")
	hydratedRoot := fs.String("hydrated-root", "/repo/hydrated", "The absolute path to the hydrated root directory.")
	hydratedLink := fs.String("hydrated-link", "rev", "The name of (a symlink to) the source directory under --hydrated-root.")
	fs.Float64("fight-detection-threshold", 5.0, "The rate of updates per minute at which fights are logged.")
	fullSyncPeriod := fs.Duration("full-sync-period", time.Hour, "Period of time between forced re-syncs from source.")
	fs.Int("workers", 1, "Number of concurrent remediator workers to run at once.")
	defaultPolling := 15 * time.Second
	if v, ok := os.LookupEnv("RECONCILER_POLLING_PERIOD"); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			fmt.Fprintf(os.Stderr, "failed to parse environment variable %q, got value: %v, want err: nil: %v\n", "RECONCILER_POLLING_PERIOD", d, err)
			return 2
		}
		defaultPolling = d
	}
	pollingPeriod := fs.Duration("filesystem-polling-period", defaultPolling, "Period of time between checking the filesystem for source updates to sync.")
	sourceFormat := fs.String("source-format", os.Getenv("SOURCE_FORMAT"), "The format of the repository.")
	reconcileTimeout := fs.String("reconcile-timeout", os.Getenv("RECONCILE_TIMEOUT"), "The timeout of applier reconcile and prune tasks")
	statusMode := fs.String("status-mode", os.Getenv("STATUS_MODE"), "When enabled or empty, the applier injects actuation status data into the ResourceGroup object")
	apiServerTimeout := fs.String("api-server-timeout", os.Getenv("API_SERVER_TIMEOUT"), "The client-side timeout for requests to the API server")
	fs.Bool("debug", false, "Enable debug mode.")
	renderingEnabled := fs.Bool("rendering-enabled", envBool("RENDERING_ENABLED", false), "")
	namespaceStrategy := fs.String("namespace-strategy", envOr("NAMESPACE_STRATEGY", ""), "Set the namespace strategy for the reconciler.")
	fs.Bool("dynamic-ns-selector-enabled", envBool("DYNAMIC_NS_SELECTOR_ENABLED", false), "")
	fs.Bool("webhook-enabled", envBool("WEBHOOK_ENABLED", false), "")
	reconcilerSignals := fs.String("reconciler-signals", "/reconciler-signals", "The absolute path of the reconciler signals directory.")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	defer klog.Flush()
	klog.Infof("Build Version: %s", core.Version)

	for name, p := range map[string]string{"repo-root": *repoRoot, "source-dir": *sourceDir, "reconciler-signals": *reconcilerSignals} {
		if !filepath.IsAbs(p) {
			klog.Errorf("%s must be an absolute path: %q", name, p)
			return 1
		}
	}
	scope := *scopeStr
	if scope != rootScope {
		if errs := validation.IsDNS1123Label(scope); len(errs) > 0 {
			klog.Errorf("invalid scope %q: %v", scope, errs)
			return 1
		}
	}
	switch *statusMode {
	case "enabled", "disabled", "":
	default:
		klog.Errorf("invalid %s %q: must be %s or %s", "status-mode", *statusMode, "enabled", "disabled")
		return 1
	}
	apiTimeout, err := time.ParseDuration(*apiServerTimeout)
	if err != nil || apiTimeout <= 0 {
		klog.Errorf("Invalid apiServerTimeout: %q", *apiServerTimeout)
		return 1
	}
	recTimeout, err := time.ParseDuration(*reconcileTimeout)
	if err != nil || recTimeout < 0 {
		klog.Errorf("Error parsing applier reconcile/prune task timeout: %q", *reconcileTimeout)
		return 1
	}
	dir := path.Clean(strings.TrimPrefix(*syncDir, "/"))
	opts := &options{
		clusterName: *clusterName, scope: scope, syncName: *syncName, reconcilerName: *reconcilerName,
		sourceType: *sourceType, sourceRepo: *sourceRepo, sourceBranch: *sourceBranch, sourceRev: *sourceRev,
		syncDir: dir, syncDirOS: filepath.FromSlash(dir),
		sourceDir: filepath.Clean(*sourceDir), repoRoot: filepath.Clean(*repoRoot),
		hydratedRoot: *hydratedRoot, hydratedLink: *hydratedLink, reconcilerSignals: *reconcilerSignals,
		fullSyncPeriod: *fullSyncPeriod, pollingPeriod: *pollingPeriod, statusUpdatePeriod: 5 * time.Second,
		sourceFormat: *sourceFormat, namespaceStrategy: *namespaceStrategy, statusMode: *statusMode,
		reconcileTimeout: recTimeout, apiServerTimeout: apiTimeout, renderingEnabled: *renderingEnabled,
	}
	if scope == rootScope {
		if opts.sourceFormat == "" {
			opts.sourceFormat = "hierarchy"
		}
		if opts.namespaceStrategy == "" {
			opts.namespaceStrategy = "implicit"
		}
		klog.Info("Starting reconciler for: root")
	} else {
		klog.Infof("Starting reconciler for: %s", scope)
		if opts.sourceFormat != "" {
			klog.Errorf("Flag %s and environment variable %s must not be passed to a Namespace reconciler", "source-format", "SOURCE_FORMAT")
			return 1
		}
		if opts.namespaceStrategy != "" {
			klog.Errorf("Flag %s and environment variable %s must not be passed to a Namespace reconciler", "namespace-strategy", "NAMESPACE_STRATEGY")
			return 1
		}
	}
	if opts.sourceType != "" && opts.sourceType != "oci" {
		klog.Warningf("source type %q: only oci sources are emulated", opts.sourceType)
	}
	return run(opts)
}

func run(opts *options) int {
	displayPaths = newPathMapper(opts.repoRoot)
	cfg, err := core.RestConfig()
	if err != nil {
		klog.Errorf("Error creating rest config: %v", err)
		return 1
	}
	cfg.Timeout = opts.apiServerTimeout
	// The API server names the manager of writes without a field manager after the user agent's program name.
	cfg.UserAgent = fmt.Sprintf("reconciler/%s (linux/amd64) kubernetes/$Format", core.Version)
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		klog.Errorf("Error creating client: %v", err)
		return 1
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		klog.Errorf("Error creating discovery client: %v", err)
		return 1
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))

	syncKind, syncNS := "RootSync", controllerNamespace
	if opts.scope != rootScope {
		syncKind, syncNS = "RepoSync", opts.scope
	}
	// As in the real reconciler, only "enabled" writes the ResourceGroup status (an empty mode disables it).
	statusMode := opts.statusMode
	inv := &inventory{dyn: dyn, syncKind: syncKind, syncName: opts.syncName, syncNS: syncNS, statusMode: statusMode}
	app := &applier{
		dyn: dyn, mapper: mapper, inv: inv, adoptAll: opts.scope == rootScope,
		applySetID:       applySetID(syncKind, opts.syncName, syncNS),
		reconcileTimeout: opts.reconcileTimeout, pollInterval: 500 * time.Millisecond,
	}
	sc := &syncClient{dyn: dyn, kind: syncKind, name: opts.syncName, namespace: syncNS, sourceRepo: opts.sourceRepo}

	signalCtx, stopSignals := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stopSignals()

	if statusMode == "enabled" {
		klog.Infof("Enabled status reporting")
	} else {
		klog.Infof("Disabled status reporting")
	}
	if err := inv.updateStatusMode(signalCtx); err != nil {
		klog.Errorf("Error setting status mode on ResourceGroup: %v", err)
		return 1
	}

	r := &reconciler{
		opts: opts, sync: sc, applier: app,
		parse: parseOptions{
			scope: opts.scope, syncName: opts.syncName, clusterName: opts.clusterName, policyDir: opts.syncDir,
			hierarchy:      opts.scope == rootScope && opts.sourceFormat == "hierarchy",
			implicitNS:     opts.namespaceStrategy == "implicit",
			reconcilerName: opts.reconcilerName, discovery: dc,
		},
	}
	if opts.scope == rootScope {
		r.parse.getNamespace = func(ctx context.Context, name string) (*unstructured.Unstructured, error) {
			return dyn.Resource(namespaceGVR).Get(ctx, name, metav1.GetOptions{})
		}
	}

	loopCtx, stopLoop := context.WithCancel(signalCtx)
	stopCh := make(chan struct{})
	go func() { <-loopCtx.Done(); close(stopCh) }()
	r.stop = stopCh
	loopDone := make(chan struct{})
	klog.Info("Starting Parser")
	go func() {
		defer close(loopDone)
		r.run(loopCtx)
	}()

	finalized := r.watchSyncObject(signalCtx, func() {
		klog.Info("Finalizer scheduled: Parser & Remediator stopping")
		stopLoop()
		<-loopDone
	})
	stopLoop()
	<-loopDone
	if finalized {
		// Wait for the exit signal (the reconciler-manager deletes the Deployment).
		<-signalCtx.Done()
	}
	klog.Info("All controllers exited")
	return 0
}

// watchSyncObject is the Finalizer controller: it keeps the reconciler finalizer on the sync object and, once the
// object is being deleted, stops the sync loop and finalizes. Returns true after finalizing.
func (r *reconciler) watchSyncObject(ctx context.Context, stopSync func()) bool {
	stopped := false
	handle := func(obj *unstructured.Unstructured) (done bool) {
		if obj.GetDeletionTimestamp() == nil {
			if err := r.ensureFinalizer(ctx, obj); err != nil {
				klog.Errorf("reconciling finalizer: %v", err)
			}
			return false
		}
		has := false
		for _, f := range obj.GetFinalizers() {
			if f == reconcilerFinalizer {
				has = true
			}
		}
		if !has {
			return false
		}
		if !stopped {
			stopSync()
			stopped = true
		}
		if err := r.finalize(ctx, obj); err != nil {
			klog.Errorf("finalizing: %v", err)
			return false
		}
		return true
	}
	selector := fields.OneTermEqualSelector("metadata.name", r.sync.name).String()
	delay := time.Second
	for ctx.Err() == nil {
		list, err := r.sync.resource().List(ctx, metav1.ListOptions{FieldSelector: selector})
		if err != nil {
			klog.Errorf("listing %s: %v", r.sync.kind, err)
			if !sleepCtx(ctx, delay) {
				return false
			}
			continue
		}
		retryPending := false
		for i := range list.Items {
			if handle(&list.Items[i]) {
				return true
			}
			retryPending = list.Items[i].GetDeletionTimestamp() != nil
		}
		w, err := r.sync.resource().Watch(ctx, metav1.ListOptions{FieldSelector: selector, ResourceVersion: list.GetResourceVersion()})
		if err != nil {
			if !apierrors.IsGone(err) {
				klog.Errorf("watching %s: %v", r.sync.kind, err)
			}
			if !sleepCtx(ctx, delay) {
				return false
			}
			continue
		}
		timeout := time.NewTimer(time.Minute)
		if retryPending {
			timeout.Reset(5 * time.Second)
		}
	events:
		for {
			select {
			case <-ctx.Done():
				w.Stop()
				timeout.Stop()
				return false
			case <-timeout.C:
				break events
			case ev, ok := <-w.ResultChan():
				if !ok {
					break events
				}
				if ev.Type != watch.Added && ev.Type != watch.Modified {
					continue
				}
				obj, ok := ev.Object.(*unstructured.Unstructured)
				if !ok {
					continue
				}
				if handle(obj) {
					w.Stop()
					timeout.Stop()
					return true
				}
				if obj.GetDeletionTimestamp() != nil {
					timeout.Reset(5 * time.Second)
				}
			}
		}
		w.Stop()
		timeout.Stop()
	}
	return false
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}
