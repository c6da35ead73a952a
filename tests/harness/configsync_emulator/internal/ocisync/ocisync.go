// Package ocisync plays Config Sync v1.24.3's oci-sync container (cmd/oci-sync): every --wait seconds it pulls
// OCI_SYNC_IMAGE with go-containerregistry into <root>/<manifest digest hex>, points the symlink <root>/<dest> at
// that directory, and reports failures in <root>/<error-file> for the reconciler.
package ocisync

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/klog/v2"

	"configsync.test/emulator/internal/core"
)

// Auth types (spec.oci.auth).
const (
	authNone              = "none"
	authToken             = "token"
	authGCENode           = "gcenode"
	authGCPServiceAccount = "gcpserviceaccount"
	authK8sServiceAccount = "k8sserviceaccount"
)

// options are the real binary's flags; each defaults to an environment variable (cmd/oci-sync/main.go).
// The CA of caCertSecretRef needs no flag: the reconciler-manager sets SSL_CERT_FILE=/etc/ca-cert/cert, which
// Go's crypto/x509 reads for the system roots.
type options struct {
	image, auth, root, dest, errorFile string
	wait                               float64
	timeout                            int
	oneTime                            bool
	maxSyncFailures                    int
	username, password                 string
}

func newFlagSet(o *options) *flag.FlagSet {
	fs := flag.NewFlagSet("oci-sync", flag.ContinueOnError)
	fs.StringVar(&o.image, "image", envString("OCI_SYNC_IMAGE", ""), "the OCI image repository for the package")
	fs.StringVar(&o.auth, "auth", envString("OCI_SYNC_AUTH", authNone),
		fmt.Sprintf("the authentication type for access to the OCI package. Must be one of %s, %s, %s, or %s. Defaults to %s",
			authGCPServiceAccount, authK8sServiceAccount, authGCENode, authNone, authNone))
	fs.StringVar(&o.root, "root", envString("OCI_SYNC_ROOT", envString("HOME", "")+"/oci"),
		"the root directory for oci-sync operations, under which --dest will be created")
	fs.StringVar(&o.dest, "dest", envString("OCI_SYNC_DEST", ""),
		"the path (absolute or relative to --root) at which to create a symlink to the directory holding the retrieved files (defaults to the leaf dir of --image)")
	fs.StringVar(&o.errorFile, "error-file", envString("OCI_SYNC_ERROR_FILE", ""),
		"the name of a file into which errors will be written under --root (defaults to \"\", disabling error reporting)")
	fs.Float64Var(&o.wait, "wait", envFloat("OCI_SYNC_WAIT", 1), "the number of seconds between syncs")
	fs.IntVar(&o.timeout, "timeout", envInt("OCI_SYNC_TIMEOUT", 120), "the max number of seconds allowed for a complete sync")
	fs.BoolVar(&o.oneTime, "one-time", envBool("OCI_SYNC_ONE_TIME", false), "exit after the first sync")
	fs.IntVar(&o.maxSyncFailures, "max-sync-failures", envInt("OCI_SYNC_MAX_SYNC_FAILURES", 0),
		"the number of consecutive failures allowed before aborting (the first sync must succeed, -1 will retry forever after the initial sync)")
	fs.StringVar(&o.username, "username", envString("OCI_SYNC_USERNAME", ""), "the username to use for oci authentication")
	fs.StringVar(&o.password, "password", envString("OCI_SYNC_PASSWORD", ""),
		"the password or personal access token to use for oci authentication")
	klog.InitFlags(fs)
	return fs
}

// Main runs oci-sync with the container's args; it returns the process exit code.
func Main(args []string) int {
	defer klog.Flush()
	var o options
	fs := newFlagSet(&o)
	_ = fs.Set("logtostderr", "true")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	klog.Infof("Build Version: %s", core.Version)
	return run(&o, fs)
}

func run(o *options, fs *flag.FlagSet) int {
	log := &errorReporter{root: o.root, errorFile: o.errorFile}
	log.Info("pulling OCI image with arguments", "--image", o.image,
		"--auth", o.auth, "--root", o.root, "--dest", o.dest, "--wait", o.wait,
		"--error-file", o.errorFile, "--timeout", o.timeout,
		"--one-time", o.oneTime, "--max-sync-failures", o.maxSyncFailures)

	// fatal is pkg/util/log HandleError: the message on stderr, the usage, the message as the error file.
	fatal := func(usage bool, format string, a ...interface{}) int {
		msg := fmt.Sprintf(format, a...)
		fmt.Fprintln(os.Stderr, msg)
		if usage {
			fmt.Fprintf(os.Stderr, "Usage of %s:\n", os.Args[0])
			fs.PrintDefaults()
		}
		log.exportError(msg)
		return 1
	}
	if o.image == "" {
		return fatal(true, "ERROR: --image must be specified")
	}
	if o.root == "" {
		return fatal(true, "ERROR: --root must be specified")
	}
	if o.dest == "" {
		o.dest = defaultDest(o.image)
	}
	if o.wait < 0 {
		return fatal(true, "ERROR: --wait must be greater than or equal to 0")
	}
	if o.timeout < 0 {
		return fatal(true, "ERROR: --timeout must be greater than 0")
	}
	if o.username != "" && o.password == "" {
		return fatal(true, "ERROR: --password must be set when --username is specified")
	}

	pinned := hasDigest(o.image)
	period := waitTime(o.wait)
	backoff := syncBackoff(period)
	auth, err := authenticator(o)
	if err != nil {
		return fatal(true, "failed to create authenticator: %v", err)
	}

	initial := true
	failures := 0
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(o.timeout)*time.Second)
		err := fetchPackage(ctx, auth, o.image, o.root, o.dest)
		cancel()
		if err != nil {
			if o.maxSyncFailures != -1 && failures >= o.maxSyncFailures {
				log.Error(err, "too many failures, aborting", "failCount", failures)
				return 1
			}
			step := backoff.Step()
			failures++
			log.Error(err, "unexpected error fetching package, will retry")
			log.Info("waiting before retrying", "waitTime", step)
			time.Sleep(step)
			continue
		}
		if initial {
			if o.oneTime {
				log.deleteErrorFile()
				return 0
			}
			if pinned {
				// A digest never changes: stay up without polling (a regular container must not exit).
				log.Info(noFurtherSyncsLog, "reason", "image was provided with digest")
				log.deleteErrorFile()
				return sleepForever()
			}
			initial = false
		}
		backoff = syncBackoff(period)
		failures = 0
		log.deleteErrorFile()
		log.Info("next sync", "wait_time", period)
		time.Sleep(period)
	}
}

// authenticator maps --auth to go-containerregistry credentials (cmd/oci-sync getAuthenticator).
func authenticator(o *options) (authn.Authenticator, error) {
	switch o.auth {
	case authNone:
		return authn.Anonymous, nil
	case authToken:
		return &authn.Basic{Username: o.username, Password: o.password}, nil
	case authGCPServiceAccount, authK8sServiceAccount, authGCENode:
		return &googleAuthenticator{}, nil
	default:
		// The real message prints []configsync.AuthType with %#v.
		return nil, fmt.Errorf("--auth type must be one of %s, but found %q",
			`[]configsync.AuthType{"none", "gcpserviceaccount", "k8sserviceaccount", "gcenode", "token"}`, o.auth)
	}
}

// waitTime converts --wait seconds to a duration at millisecond precision (pkg/util WaitTime).
func waitTime(seconds float64) time.Duration {
	return time.Duration(int(seconds*1000)) * time.Millisecond
}

// syncBackoff is the retry backoff after a failed pull: 1s doubling, 10% jitter, capped at max(1h, period)
// (pkg/util SyncContainerBackoff).
func syncBackoff(period time.Duration) wait.Backoff {
	limit := time.Hour
	if period > limit {
		limit = period
	}
	return wait.Backoff{Duration: time.Second, Factor: 2, Jitter: 0.1, Steps: math.MaxInt32, Cap: limit}
}

func sleepForever() int {
	c := make(chan os.Signal, 1)
	signal.Notify(c, os.Interrupt, syscall.SIGTERM)
	<-c
	return 0
}

// Environment defaults, with the real helpers' parsing and warnings (pkg/util/env.go).

func envString(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func envBool(key string, def bool) bool {
	if v := os.Getenv(key); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return def
		}
		return b
	}
	return def
}

func envInt(key string, def int) int {
	if v := os.Getenv(key); v != "" {
		n, err := strconv.ParseInt(v, 0, 0)
		if err != nil {
			fmt.Fprintf(os.Stderr, "WARNING: invalid env value (%v): using default, key=%s, val=%q, default=%d\n", err, key, v, def)
			return def
		}
		return int(n)
	}
	return def
}

func envFloat(key string, def float64) float64 {
	if v := os.Getenv(key); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			fmt.Fprintf(os.Stderr, "WARNING: invalid env value (%v): using default, key=%s, val=%q, default=%f\n", err, key, v, def)
			return def
		}
		return f
	}
	return def
}
