package nomos

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"configsync.test/emulator/internal/core"
)

// `nomos version` (cmd/nomos/version/version.go): per context, the Config Sync version an OSS install carries in
// the image tag of its reconciler-manager Deployment (or the ConfigManagement version), and the CLI's own.

const (
	reconcilerManagerName = "reconciler-manager"
	configSyncComponent   = "config-sync"
)

type versionEntry struct {
	current, name, component, version string
	err                               error
}

func versionCommand(global *flag.FlagSet, args []string) int {
	var contexts []string
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(&stringSlice{values: &contexts}, "contexts",
		`Accepts a comma-separated list of contexts to use in multi-cluster commands. Defaults to all contexts. Use "" for no contexts.`)
	timeout := fs.Duration("timeout", defaultTimeout, "Timeout for connecting to each cluster")
	global.VisitAll(func(f *flag.Flag) {
		if fs.Lookup(f.Name) == nil {
			fs.Var(f.Value, f.Name, f.Usage)
		}
	})
	if _, err := parseInterspersed(fs, args, nil); err != nil {
		return usageError(err)
	}
	configs, err := allKubectlConfigs(*timeout, contexts)
	if err != nil {
		var pathErr *os.PathError
		if errors.As(err, &pathErr) {
			err = pathErr
		}
		fmt.Printf("failed to create client configs: %v\n", err)
	}
	writeVersions(context.Background(), configs, os.Stdout)
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error: unable to parse kubectl config: %v\n", err)
		return 1
	}
	return 0
}

func writeVersions(ctx context.Context, configs map[string]*rest.Config, out io.Writer) {
	if len(configs) == 0 {
		fmt.Print("No clusters match the specified context.\n")
	}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		mono []string
	)
	found := map[string]versionEntry{}
	for name, cfg := range configs {
		wg.Add(1)
		go func(name string, cfg *rest.Config) {
			defer wg.Done()
			e := versionEntry{name: name}
			var isMulti *bool
			e.version, isMulti, e.component, e.err = lookupVersionAndMode(ctx, cfg)
			mu.Lock()
			defer mu.Unlock()
			if isMulti != nil && !*isMulti {
				mono = append(mono, name)
			}
			found[name] = e
		}(name, cfg)
	}
	wg.Wait()
	monoRepoNotice(out, mono...)
	current, curErr := currentContextName()
	if curErr != nil {
		fmt.Printf("Failed to get current context name with err: %v\n", curErr)
	}
	var entries []versionEntry
	for name, e := range found {
		if name == current && curErr == nil {
			e.current = "*"
		}
		entries = append(entries, e)
	}
	entries = append(entries, versionEntry{component: "<nomos CLI>", version: core.Version})
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	w := newWriter(out)
	defer w.Flush()
	format := "%s\t%s\t%s\t%s\n"
	fmt.Fprintf(w, format, "CURRENT", "CLUSTER_CONTEXT_NAME", "COMPONENT", "VERSION")
	for _, e := range entries {
		if e.err != nil {
			fmt.Fprintf(w, format, e.current, e.name, e.component, fmt.Sprintf("<error: %v>", e.err))
			continue
		}
		fmt.Fprintf(w, format, e.current, e.name, e.component, e.version)
	}
}

func lookupVersionAndMode(ctx context.Context, cfg *rest.Config) (string, *bool, string, error) {
	typed, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return errorMsg, nil, "", err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return errorMsg, nil, "", err
	}
	c := &apiCluster{typed: typed, dynamic: dyn}
	isOss, err := isOssInstallation(ctx, c)
	if err != nil {
		return errorMsg, nil, "", err
	}
	if isOss {
		deployment, err := typed.AppsV1().Deployments(core.SystemNamespace).Get(ctx, reconcilerManagerName, metav1.GetOptions{})
		if err != nil {
			return errorMsg, nil, "", err
		}
		image := ""
		for _, container := range deployment.Spec.Template.Spec.Containers {
			if container.Name == reconcilerManagerName {
				image = container.Image
				break
			}
		}
		parts := strings.Split(image, ":")
		if len(parts) <= 1 {
			return errorMsg, nil, "", fmt.Errorf("Failed to get valid image version from: %s", parts)
		}
		return parts[1], &isOss, configSyncComponent, nil
	}
	v, err := cmVersion(ctx, c)
	if err != nil {
		return errorMsg, nil, "", err
	}
	isMulti, err := isMultiRepo(ctx, c)
	if c.isNotFound(err) {
		return v, isMulti, configManagementName, nil
	}
	return v, isMulti, configManagementName, err
}

// monoRepoNotice is util.MonoRepoNotice, for clusters still in the legacy mono-repo mode.
func monoRepoNotice(w io.Writer, clusters ...string) {
	const yellow, reset = "\033[33m", "\033[0m"
	switch len(clusters) {
	case 0:
		return
	case 1:
		fmt.Fprintf(w, "%sNotice: The cluster %q is still running in the legacy mode.\n", yellow, clusters[0])
	default:
		fmt.Fprintf(w, "%sNotice: The following clusters are still running in the legacy mode:\n%s%s\n", yellow, "- ", strings.Join(clusters, "\n- "))
	}
	fmt.Fprintf(w, "Run `nomos migrate` to enable multi-repo mode. It provides you with additional features and gives you the flexibility to sync to a single repository, or multiple repositories.%s\n", reset)
}
