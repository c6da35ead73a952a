// Package nomos plays Config Sync v1.24.3's nomos CLI (cmd/nomos): `nomos status` with its flags and text, and
// `nomos version`. The verdicts, the cluster-level errors and the tabwriter layout follow cmd/nomos/status and
// cmd/nomos/util; KUBECONFIG (several files joined by ':') and the contexts are read as pkg/client/restconfig does.
package nomos

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/klog/v2"

	"configsync.test/emulator/internal/core"
)

const defaultTimeout = 15 * time.Second

// newWriter is util.NewWriter: the tabwriter every nomos table goes through.
func newWriter(out io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(out, 0, 0, 3, ' ', 0)
}

// stringSlice is a pflag StringSlice: comma-separated (CSV) values; the first use replaces the default (nil),
// later ones append.
type stringSlice struct {
	values  *[]string
	changed bool
}

func (s *stringSlice) String() string {
	if s.values == nil || *s.values == nil {
		return "[]"
	}
	return "[" + strings.Join(*s.values, ",") + "]"
}

func (s *stringSlice) Set(v string) error {
	var parsed []string
	if v != "" {
		r := csv.NewReader(strings.NewReader(v))
		record, err := r.Read()
		if err != nil {
			return err
		}
		parsed = record
	} else {
		parsed = []string{}
	}
	if !s.changed {
		*s.values = parsed
		s.changed = true
	} else {
		*s.values = append(*s.values, parsed...)
	}
	return nil
}

// Main runs `nomos ARGS...`.
func Main(args []string) int {
	global := flag.NewFlagSet("nomos", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	klog.InitFlags(global)
	global.String("kubeconfig", "", "Path to the client config file.")
	var showVersion bool
	global.BoolVar(&showVersion, "version", false, "version for nomos")

	// The global flags may come before the command.
	if err := global.Parse(args); err != nil {
		return usageError(err)
	}
	rest := global.Args()
	if showVersion && len(rest) == 0 {
		fmt.Println(core.Version)
		return 0
	}
	if len(rest) == 0 {
		fmt.Fprintln(os.Stderr, "usage: nomos status [--contexts=CTX,...] [--name=NAME] [--namespace=NS] [--poll=DURATION] [--resources=BOOL] [--timeout=DURATION]")
		return 1
	}
	switch rest[0] {
	case "status":
		return statusCommand(global, rest[1:])
	case "version":
		return versionCommand(global, rest[1:])
	}
	fmt.Fprintf(os.Stderr, "Error: unknown command %q for \"nomos\"\nRun 'nomos --help' for usage.\n", rest[0])
	return 1
}

// parseInterspersed parses flags anywhere among the arguments (as cobra/pflag do) and returns the others.
func parseInterspersed(fs *flag.FlagSet, args []string, positional []string) ([]string, error) {
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if rest[0] == "--" {
			return append(positional, rest[1:]...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

func usageError(err error) int {
	msg := err.Error()
	if strings.HasPrefix(msg, "flag provided but not defined: ") {
		msg = "unknown flag: " + strings.TrimPrefix(msg, "flag provided but not defined: ")
	}
	fmt.Fprintf(os.Stderr, "Error: %s\n", msg)
	return 1
}

// statusOptions are `nomos status`'s flags.
type statusOptions struct {
	contexts  []string
	timeout   time.Duration
	poll      time.Duration
	namespace string
	resources bool
	name      string
}

func statusFlags(global *flag.FlagSet, o *statusOptions) *flag.FlagSet {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(&stringSlice{values: &o.contexts}, "contexts",
		`Accepts a comma-separated list of contexts to use in multi-cluster commands. Defaults to all contexts. Use "" for no contexts.`)
	fs.DurationVar(&o.timeout, "timeout", defaultTimeout, "Sets the timeout for connecting to each cluster. Defaults to 15 seconds. Example: --timeout=30s")
	fs.DurationVar(&o.poll, "poll", 0, "Continuously polls for status updates at the specified interval. If not provided, the command runs only once. Example: --poll=30s for polling every 30 seconds")
	fs.StringVar(&o.namespace, "namespace", "", "Filters the status output by the specified RootSync or RepoSync namespace. If not provided, displays status for all RootSync and RepoSync objects.")
	fs.BoolVar(&o.resources, "resources", true, "Displays detailed status for individual resources managed by RootSync or RepoSync objects. Defaults to true.")
	fs.StringVar(&o.name, "name", "", "Filters the status output by the specified RootSync or RepoSync name.")
	// The global (persistent) flags are accepted after the command too.
	global.VisitAll(func(f *flag.Flag) {
		if fs.Lookup(f.Name) == nil {
			fs.Var(f.Value, f.Name, f.Usage)
		}
	})
	return fs
}

func statusCommand(global *flag.FlagSet, args []string) int {
	var o statusOptions
	fs := statusFlags(global, &o)
	if _, err := parseInterspersed(fs, args, nil); err != nil {
		return usageError(err)
	}
	ctx := context.Background()
	fmt.Println("Connecting to clusters...")
	clients, err := clusterClients(ctx, o.timeout, o.contexts)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(os.Stderr, "Error: %v\n", fmt.Errorf("failed to create client configs: %w", err))
			return 1
		}
		klog.Fatalf("Failed to get clients: %v", err)
	}
	if len(clients) == 0 {
		fmt.Fprintln(os.Stderr, "Error: no clusters found")
		return 1
	}
	names := make([]string, 0, len(clients))
	for name := range clients {
		names = append(names, name)
	}
	sort.Strings(names)
	w := newWriter(os.Stdout)
	for {
		printStatus(ctx, w, clients, names, o)
		if o.poll <= 0 {
			return 0
		}
		time.Sleep(o.poll)
	}
}

// printStatus is status.printStatus: every cluster's state first, then all the text at once.
func printStatus(ctx context.Context, w *tabwriter.Writer, clients map[string]cluster, names []string, o statusOptions) {
	states := map[string]*clusterState{}
	var mono []string
	for name, c := range clients {
		if c == nil {
			states[name] = unavailableCluster(name)
			continue
		}
		cs := clusterStatus(ctx, c, name, o.namespace)
		states[name] = cs
		if cs.isMulti != nil && !*cs.isMulti {
			mono = append(mono, name)
		}
	}
	monoRepoNotice(w, mono...)
	current, err := currentContextName()
	if err != nil {
		fmt.Printf("Failed to get current context name with err: %v\n", err)
	}
	if o.poll > 0 {
		clearTerminal(w)
		_ = w.Flush()
	}
	writeStates(w, states, names, current, printOptions{name: o.name, resources: o.resources})
	_ = w.Flush()
}

// writeStates writes the clusters in name order, the current context marked with '*'.
func writeStates(w io.Writer, states map[string]*clusterState, names []string, current string, opts printOptions) {
	for _, name := range names {
		state := states[name]
		if name == current {
			state.ref = "*" + name
		}
		state.printRows(w, opts)
	}
}

func clearTerminal(out io.Writer) {
	cmd := exec.Command("clear")
	cmd.Stdout = out
	if err := cmd.Run(); err != nil {
		klog.Warningf("Failed to execute command: %v", err)
	}
}
