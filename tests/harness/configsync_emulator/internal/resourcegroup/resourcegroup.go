// Package resourcegroup plays Config Sync v1.24.3's resource-group controller (cmd/resource-group,
// pkg/resourcegroup/controllers): for every ResourceGroup Config Sync owns it computes the kstatus of each object
// of spec.resources and writes status.resourceStatuses (status, sourceHash, conditions, keeping the applier's
// strategy/actuation/reconcile), status.observedGeneration and the Reconciling/Stalled conditions.
//
// It learns of changes by watching the kinds the ResourceGroups list (as the real controller does, not by polling),
// and, like it, reconciles a ResourceGroup at most once per 30s, 30s after the first change it hears of (the
// throttler of controllers/handler). CONFIGSYNC_EMULATOR_RG_THROTTLE (a Go duration) shortens that window for
// tests that want it; the harness does not set it.
package resourcegroup

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"configsync.test/emulator/internal/core"
)

// DefaultDuration is the throttler's window (resourcegroup.DefaultDuration).
const DefaultDuration = 30 * time.Second

// ThrottleEnv overrides DefaultDuration (emulator only).
const ThrottleEnv = "CONFIGSYNC_EMULATOR_RG_THROTTLE"

// Main runs the controller with the real binary's flags: --metrics-addr, --enable-leader-election, --kubeconfig,
// --enable-pprof/--pprof-port and klog's (-v defaults to 1).
func Main(args []string) int {
	fs := flag.NewFlagSet("resource-group", flag.ContinueOnError)
	klog.InitFlags(fs)
	_ = fs.Set("v", "1")
	_ = fs.Set("logtostderr", "true")
	metricsAddr := fs.String("metrics-addr", ":8080", "The address the metric endpoint binds to.")
	fs.Bool("enable-leader-election", false, "Enable leader election for controller manager. "+
		"Enabling this will ensure there is only one active controller manager.")
	kubeconfig := fs.String("kubeconfig", "", "Paths to a kubeconfig. Only required if out-of-cluster.")
	fs.Bool("enable-pprof", false, "enable pprof profiling")
	fs.Int("pprof-port", 6060, "port for pprof profiling. defaulted to 6060 if unspecified")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := run(*metricsAddr, *kubeconfig); err != nil {
		klog.Errorf("%v exiting", err)
		klog.Flush()
		return 1
	}
	return 0
}

func run(metricsAddr, kubeconfig string) error {
	var config *rest.Config
	var err error
	if kubeconfig != "" {
		config, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	} else {
		config, err = core.RestConfig()
	}
	if err != nil {
		return fmt.Errorf("failed to build manager: %w", err)
	}
	dyn, err := dynamic.NewForConfig(config)
	if err != nil {
		return fmt.Errorf("failed to build manager: %w", err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(config)
	if err != nil {
		return fmt.Errorf("failed to build manager: %w", err)
	}
	if metricsAddr != "0" && metricsAddr != "" {
		listener, err := net.Listen("tcp", metricsAddr)
		if err != nil {
			return fmt.Errorf("failed to build manager: error listening on %s: %w", metricsAddr, err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		})
		go func() { _ = http.Serve(listener, mux) }()
		klog.Infof("Serving metrics server on %s", listener.Addr())
	}
	throttle := DefaultDuration
	if v := os.Getenv(ThrottleEnv); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d >= 0 {
			throttle = d
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return newController(dyn, dc, throttle).run(ctx)
}
