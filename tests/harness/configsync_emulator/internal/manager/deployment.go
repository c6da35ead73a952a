package manager

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"configsync.test/emulator/internal/core"
)

// Container names of the reconciler Pod template (pkg/reconcilermanager/constants.go, pkg/metrics).
const (
	containerReconciler = "reconciler"
	containerHydration  = "hydration-controller"
	containerGitSync    = "git-sync"
	containerAskpass    = "gcenode-askpass-sidecar"
	containerOciSync    = "oci-sync"
	containerHelmSync   = "helm-sync"
	containerOtelAgent  = "otel-agent"

	hydrationControllerWithShell = "hydration-controller-with-shell"
)

// Volumes and paths (volumes.go, gcenode_askpass_sidecar.go).
const (
	gitCredentialVolume  = "git-creds"
	helmCredentialVolume = "helm-creds"
	caCertVolume         = "ca-cert"
	caCertSecretKey      = "cert"
	caCertPath           = "/etc/ca-cert"
	gcpKSAVolumeName     = "gcp-ksa"
	gcpKSATokenDir       = "/var/run/secrets/tokens/gcp-ksa"
	gsaTokenPath         = "token"
	googleAppCredsFile   = "google-application-credentials.json"
)

// templatePaths are where the reconciler Deployment template is read from: the real manager reads deployment.yaml
// relative to its working directory (/ in its container, where the ConfigMap is mounted).
var templatePaths = []string{"deployment.yaml", "/deployment.yaml"}

// loadTemplate reads and decodes the reconciler Deployment template (parse.go). It is read on every use, as the real
// manager does, so a changed ConfigMap takes effect.
func loadTemplate() (*appsv1.Deployment, error) {
	var lastErr error
	for _, path := range templatePaths {
		data, err := os.ReadFile(path)
		if err != nil {
			lastErr = err
			continue
		}
		return parseTemplate(data)
	}
	return nil, lastErr
}

func parseTemplate(data []byte) (*appsv1.Deployment, error) {
	d := &appsv1.Deployment{}
	if err := yaml.Unmarshal(data, d); err != nil {
		return nil, fmt.Errorf("failed to parse reconciler Deployment manifest from ConfigMap: %w", err)
	}
	return d, nil
}

// deploymentInput is everything the reconciler Deployment depends on besides the template.
type deploymentInput struct {
	Sync                    *syncObject
	ClusterName             string
	ReconcilerPollingPeriod time.Duration
	HydrationPollingPeriod  time.Duration
	Membership              *membership
	WebhookEnabled          bool
}

// buildDeployment fills the template in for one sync object: upsertDeployment + mutationsFor of
// rootsync_controller.go / reposync_controller.go.
func buildDeployment(tmpl *appsv1.Deployment, in deploymentInput) (*appsv1.Deployment, error) {
	s := in.Sync
	d := tmpl.DeepCopy()
	reconcilerName := s.reconcilerName()
	labels := managedObjectLabels(s.Kind, s.Namespace, s.Name)

	d.APIVersion, d.Kind = "apps/v1", "Deployment"
	d.Name = reconcilerName
	d.Namespace = core.SystemNamespace
	d.Labels = mergeLabels(d.Labels, labels)
	d.Spec.Template.Labels = mergeLabels(d.Spec.Template.Labels, labels)
	d.Spec.Template.Labels = mergeLabels(d.Spec.Template.Labels, map[string]string{deploymentNameLabel: reconcilerName})
	if d.Spec.Selector == nil {
		return nil, fmt.Errorf("reconciler Deployment template has no spec.selector")
	}
	d.Spec.Selector.MatchLabels = mergeLabels(d.Spec.Selector.MatchLabels, map[string]string{deploymentNameLabel: reconcilerName})

	d.OwnerReferences = nil
	auth, gsaEmail, secretRefName, caCertName := s.sourceAuth()
	injectFWI := useFWIAuth(auth, in.Membership)
	if injectFWI {
		creds, err := fwiCredentials(in.Membership.WorkloadIdentityPool, in.Membership.IdentityProvider, gsaEmail, auth)
		if err == nil {
			if d.Spec.Template.Annotations == nil {
				d.Spec.Template.Annotations = map[string]string{}
			}
			d.Spec.Template.Annotations[fleetWorkloadIdentityAnn] = creds
		}
	}
	generation := strconv.FormatInt(s.Generation, 10)
	d.Labels = mergeLabels(d.Labels, map[string]string{syncGenerationLabel: generation})
	d.Spec.Template.Labels = mergeLabels(d.Spec.Template.Labels, map[string]string{syncGenerationLabel: generation, reconcilerLabel: reconcilerName})

	podSpec := &d.Spec.Template.Spec
	podSpec.ServiceAccountName = reconcilerName
	podSpec.DeprecatedServiceAccount = reconcilerName

	// A RepoSync's Secrets are copies in config-management-system named <reconciler>-<secret>.
	volumeSecret := secretRefName
	if s.Kind == core.RepoSyncKind {
		volumeSecret = reconcilerName + "-" + secretRefName
		if caCertName != "" {
			caCertName = reconcilerName + "-" + caCertName
		}
	}
	podSpec.Volumes = filterVolumes(podSpec.Volumes, auth, volumeSecret, caCertName, s.Spec.SourceType, in.Membership)

	resources := containerResourceSettings(s.Spec.override().Resources)
	logLevels := containerLogLevels(s.Spec.override().LogLevels)
	envs := containerEnvs(in)
	requiresRendering := s.annotationTrue(requiresRenderingAnno)

	var containers []corev1.Container
	for _, c := range podSpec.Containers {
		keep := true
		switch c.Name {
		case containerReconciler:
			c.Env = append(c.Env, envs[c.Name]...)
		case containerHydration:
			if !requiresRendering {
				keep = false
			} else {
				c.Env = append(c.Env, envs[c.Name]...)
				c.Image = hydrationControllerImage(c.Image, s.Spec.override().EnableShellInRendering)
			}
		case containerOciSync:
			if s.Spec.SourceType != sourceOci {
				keep = false
			} else {
				c.Env = append(c.Env, envs[c.Name]...)
				c.VolumeMounts = volumeMounts(auth, caCertName, s.Spec.SourceType, c.VolumeMounts)
				if auth == authToken {
					c.Env = append(c.Env, tokenAuthEnv("OCI_SYNC_USERNAME", "OCI_SYNC_PASSWORD", volumeSecret)...)
				}
				injectFWICreds(&c, injectFWI)
			}
		case containerHelmSync:
			if s.Spec.SourceType != sourceHelm {
				keep = false
			} else {
				c.Env = append(c.Env, envs[c.Name]...)
				c.VolumeMounts = volumeMounts(auth, caCertName, s.Spec.SourceType, c.VolumeMounts)
				if auth == authToken {
					c.Env = append(c.Env, tokenAuthEnv("HELM_SYNC_USERNAME", "HELM_SYNC_PASSWORD", volumeSecret)...)
				}
				injectFWICreds(&c, injectFWI)
			}
		case containerGitSync:
			if s.Spec.SourceType != sourceGit {
				keep = false
			} else {
				c.Env = append(c.Env, envs[c.Name]...)
				c.VolumeMounts = volumeMounts(auth, caCertName, s.Spec.SourceType, c.VolumeMounts)
				if auth == authToken {
					c.Env = append(c.Env, gitTokenAuthEnv(volumeSecret)...)
				}
			}
		case containerAskpass:
			if !(s.Spec.SourceType == sourceGit && (auth == authGCPServiceAccount || auth == authGCENode)) {
				keep = false
			} else {
				c.Env = append(c.Env, envs[c.Name]...)
				injectFWICreds(&c, injectFWI)
			}
		case containerOtelAgent:
			c.Env = append(c.Env, envs[c.Name]...)
		default:
			return nil, fmt.Errorf("unknown container in reconciler deployment template: %q", c.Name)
		}
		if !keep {
			continue
		}
		mutateContainerResources(&c, resources)
		mutateContainerLogLevel(&c, logLevels)
		containers = append(containers, c)
	}
	podSpec.Containers = containers
	return d, nil
}

func mergeLabels(dst, src map[string]string) map[string]string {
	if dst == nil {
		dst = make(map[string]string, len(src))
	}
	for k, v := range src {
		dst[k] = v
	}
	return dst
}

// fwiCredentials is BuildFWICredsContent: the external_account credentials the pod reads through the downward API.
func fwiCredentials(pool, provider, gsaEmail, auth string) (string, error) {
	content := map[string]interface{}{
		"type":               "external_account",
		"audience":           fmt.Sprintf("identitynamespace:%s:%s", pool, provider),
		"subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
		"token_url":          "https://sts.googleapis.com/v1/token",
		"credential_source":  map[string]string{"file": filepath.Join(gcpKSATokenDir, gsaTokenPath)},
	}
	if gsaEmail != "" && auth == authGCPServiceAccount {
		content["service_account_impersonation_url"] = fmt.Sprintf(
			"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/%s:generateAccessToken", gsaEmail)
	}
	data, err := json.Marshal(content)
	if err != nil {
		return "", err
	}
	return string(data), nil
}

// filterVolumes drops the credential volumes a source does not use and adds the CA cert and fleet WI volumes
// (volumes.go).
func filterVolumes(existing []corev1.Volume, auth, secret, caCert, sourceType string, m *membership) []corev1.Volume {
	var out []corev1.Volume
	for _, v := range existing {
		switch v.Name {
		case gitCredentialVolume:
			if skipForAuth(auth) || sourceType != sourceGit {
				continue
			}
			if v.Secret != nil {
				v.Secret.SecretName = secret
			}
		case helmCredentialVolume:
			if skipForAuth(auth) || sourceType != sourceHelm {
				continue
			}
			if v.Secret != nil {
				v.Secret.SecretName = secret
			}
		}
		out = append(out, v)
	}
	mode := int32(0644)
	if caCert != "" {
		out = append(out, corev1.Volume{
			Name: caCertVolume,
			VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName:  caCert,
				Items:       []corev1.KeyToPath{{Key: caCertSecretKey, Path: caCertSecretKey}},
				DefaultMode: &mode,
			}},
		})
	}
	if useFWIAuth(auth, m) {
		expiration := int64((48 * time.Hour).Seconds())
		out = append(out, corev1.Volume{
			Name: gcpKSAVolumeName,
			VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				Sources: []corev1.VolumeProjection{
					{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
						Audience: m.WorkloadIdentityPool, ExpirationSeconds: &expiration, Path: gsaTokenPath}},
					{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{
						Path: googleAppCredsFile,
						FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1",
							FieldPath: fmt.Sprintf("metadata.annotations['%s']", fleetWorkloadIdentityAnn)},
					}}}},
				},
				DefaultMode: &mode,
			}},
		})
	}
	return out
}

// volumeMounts adds the CA cert mount, drops unused credential mounts and sorts the mounts by volume name.
func volumeMounts(auth, caCert, sourceType string, existing []corev1.VolumeMount) []corev1.VolumeMount {
	var out []corev1.VolumeMount
	if caCert != "" {
		out = append(out, corev1.VolumeMount{MountPath: caCertPath, Name: caCertVolume, ReadOnly: true})
	}
	for _, m := range existing {
		if m.Name == gitCredentialVolume && (skipForAuth(auth) || sourceType != sourceGit) {
			continue
		}
		if m.Name == helmCredentialVolume && (skipForAuth(auth) || sourceType != sourceHelm) {
			continue
		}
		out = append(out, m)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func injectFWICreds(c *corev1.Container, inject bool) {
	if !inject {
		return
	}
	c.Env = append(c.Env, corev1.EnvVar{Name: "GOOGLE_APPLICATION_CREDENTIALS", Value: filepath.Join(gcpKSATokenDir, googleAppCredsFile)})
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: gcpKSAVolumeName, ReadOnly: true, MountPath: gcpKSATokenDir})
}

func tokenAuthEnv(userVar, passwordVar, secret string) []corev1.EnvVar {
	ref := func(key string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key}}
	}
	return []corev1.EnvVar{{Name: userVar, ValueFrom: ref("username")}, {Name: passwordVar, ValueFrom: ref("password")}}
}

// gitTokenAuthEnv is gitSyncTokenAuthEnv: the token is the Secret's "token" key.
func gitTokenAuthEnv(secret string) []corev1.EnvVar {
	env := tokenAuthEnv("GITSYNC_USERNAME", "GITSYNC_PASSWORD", secret)
	env[1].ValueFrom.SecretKeyRef.Key = "token"
	return env
}

func hydrationControllerImage(image string, enableShell *bool) string {
	if enableShell == nil || !*enableShell {
		return strings.ReplaceAll(image, hydrationControllerWithShell, containerHydration)
	}
	return strings.ReplaceAll(image, containerHydration+":", hydrationControllerWithShell+":")
}

func periodOr(d time.Duration, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// containerEnvs is populateContainerEnvs: the environment the manager adds to each container.
func containerEnvs(in deploymentInput) map[string][]corev1.EnvVar {
	s := in.Sync
	spec := &s.Spec
	o := spec.override()
	scope := s.scope()
	reconcilerName := s.reconcilerName()

	var syncDir, syncRepo, syncBranch, syncRev string
	switch spec.SourceType {
	case sourceOci:
		if spec.Oci != nil {
			syncRepo, syncDir = spec.Oci.Image, spec.Oci.Dir
		}
	case sourceHelm:
		if spec.Helm != nil {
			syncRepo, syncDir = spec.Helm.Repo, spec.Helm.Chart
			syncRev = spec.Helm.Version
			if syncRev == "" {
				syncRev = "latest"
			}
		}
	case sourceGit:
		if spec.Git != nil {
			syncRepo, syncDir = spec.Git.Repo, spec.Git.Dir
			syncBranch, syncRev = spec.Git.Branch, spec.Git.Revision
			if syncBranch == "" {
				syncBranch = "master"
			}
			if syncRev == "" {
				syncRev = "HEAD"
			}
		}
	}
	hydrationDir := syncDir
	if spec.SourceType == sourceHelm {
		hydrationDir = "."
	}
	statusMode := o.StatusMode
	if statusMode == "" {
		statusMode = "enabled"
	}
	reconcileTimeout := defaultReconcileTimeout.String()
	if o.ReconcileTimeout != nil && o.ReconcileTimeout.Duration != 0 {
		reconcileTimeout = o.ReconcileTimeout.Duration.String()
	}
	apiServerTimeout := defaultAPIServerTimeout.String()
	if o.APIServerTimeout != nil && o.APIServerTimeout.Duration != 0 {
		apiServerTimeout = o.APIServerTimeout.Duration.String()
	}
	requiresRendering := s.annotationTrue(requiresRenderingAnno)
	dynamicNS := s.Kind == core.RootSyncKind && s.annotationTrue(dynamicNSSelectorAnno)

	env := func(name, value string) corev1.EnvVar { return corev1.EnvVar{Name: name, Value: value} }
	result := map[string][]corev1.EnvVar{}
	result[containerHydration] = []corev1.EnvVar{
		env("SOURCE_TYPE", spec.SourceType),
		env("SCOPE", scope),
		env("RECONCILER_NAME", reconcilerName),
		env("NAMESPACE_NAME", scope),
		env("SYNC_DIR", hydrationDir),
		env("HYDRATION_POLLING_PERIOD", in.HydrationPollingPeriod.String()),
	}
	reconciler := []corev1.EnvVar{
		env("CLUSTER_NAME", in.ClusterName),
		env("SCOPE", scope),
		env("SYNC_NAME", s.Name),
		env("SYNC_GENERATION", strconv.FormatInt(s.Generation, 10)),
		env("RECONCILER_NAME", reconcilerName),
		env("NAMESPACE_NAME", scope),
		env("SYNC_DIR", syncDir),
		env("SOURCE_REPO", syncRepo),
		env("SOURCE_TYPE", spec.SourceType),
		env("STATUS_MODE", statusMode),
		env("RECONCILE_TIMEOUT", reconcileTimeout),
		env("RECONCILER_POLLING_PERIOD", in.ReconcilerPollingPeriod.String()),
		env("API_SERVER_TIMEOUT", apiServerTimeout),
		env("RENDERING_ENABLED", strconv.FormatBool(requiresRendering)),
	}
	if in.WebhookEnabled {
		reconciler = append(reconciler, env("WEBHOOK_ENABLED", "true"))
	}
	if dynamicNS {
		reconciler = append(reconciler, env("DYNAMIC_NS_SELECTOR_ENABLED", "true"))
	}
	if syncBranch != "" {
		reconciler = append(reconciler, env("SOURCE_BRANCH", syncBranch))
	}
	if syncRev != "" {
		reconciler = append(reconciler, env("SOURCE_REV", syncRev))
	}
	if s.Kind == core.RootSyncKind {
		strategy := o.NamespaceStrategy
		if strategy == "" {
			strategy = "implicit"
		}
		reconciler = append(reconciler, env("SOURCE_FORMAT", spec.SourceFormat), env("NAMESPACE_STRATEGY", strategy))
	}
	result[containerReconciler] = reconciler

	switch spec.SourceType {
	case sourceOci:
		if o := spec.Oci; o != nil {
			period := periodOr(o.Period.Duration, defaultReconcilerPollingPeriod)
			oci := []corev1.EnvVar{
				env("OCI_SYNC_IMAGE", o.Image),
				env("OCI_SYNC_AUTH", o.Auth),
				env("OCI_SYNC_WAIT", fmt.Sprintf("%f", period.Seconds())),
			}
			if secretName(o.CACertSecretRef) != "" {
				oci = append(oci, env("SSL_CERT_FILE", caCertPath+"/"+caCertSecretKey))
			}
			result[containerOciSync] = oci
		}
	case sourceHelm:
		if h := spec.Helm; h != nil {
			releaseNamespace, deployNamespace := h.Namespace, h.DeployNamespace
			if s.Kind == core.RepoSyncKind {
				releaseNamespace, deployNamespace = s.Namespace, ""
			}
			values := ""
			if len(h.Values) > 0 && string(h.Values) != "null" {
				values = string(h.Values)
			}
			helm := []corev1.EnvVar{
				env("HELM_REPO", h.Repo),
				env("HELM_CHART", h.Chart),
				env("HELM_CHART_VERSION", h.Version),
				env("HELM_RELEASE_NAME", h.ReleaseName),
				env("HELM_RELEASE_NAMESPACE", releaseNamespace),
				env("HELM_DEPLOY_NAMESPACE", deployNamespace),
				env("HELM_VALUES_YAML", values),
				env("HELM_INCLUDE_CRDS", strconv.FormatBool(h.IncludeCRDs)),
				env("HELM_AUTH_TYPE", h.Auth),
				env("HELM_SYNC_WAIT", fmt.Sprintf("%f", periodOr(h.Period.Duration, defaultHelmSyncPollingPeriod).Seconds())),
			}
			if secretName(h.CACertSecretRef) != "" {
				helm = append(helm, env("HELM_CA_CERT", caCertPath+"/"+caCertSecretKey))
			}
			result[containerHelmSync] = helm
		}
	case sourceGit:
		if g := spec.Git; g != nil && (g.Auth == authGCPServiceAccount || g.Auth == authGCENode) {
			result[containerAskpass] = []corev1.EnvVar{env("GSA_EMAIL", g.GCPServiceAccountEmail)}
		}
	}
	return result
}

// resourceSpec is a container's resource settings after defaults (reconciler_container_resources.go).
type resourceSpec struct {
	cpuRequest, cpuLimit, memoryRequest, memoryLimit resource.Quantity
}

func q(s string) resource.Quantity { return resource.MustParse(s) }

// resourceDefaults is ReconcilerContainerResourceDefaults (not Autopilot).
func resourceDefaults() map[string]resourceSpec {
	return map[string]resourceSpec{
		containerReconciler: {cpuRequest: q("50m"), memoryRequest: q("200Mi")},
		containerHydration:  {cpuRequest: q("10m"), memoryRequest: q("100Mi")},
		containerOciSync:    {cpuRequest: q("25m"), memoryRequest: q("32Mi")},
		containerHelmSync:   {cpuRequest: q("75m"), memoryRequest: q("128Mi")},
		containerGitSync:    {cpuRequest: q("10m"), memoryRequest: q("16Mi")},
		containerAskpass:    {cpuRequest: q("10m"), memoryRequest: q("20Mi")},
		containerOtelAgent:  {cpuRequest: q("10m"), cpuLimit: q("1000m"), memoryRequest: q("100Mi"), memoryLimit: q("1Gi")},
	}
}

// containerResourceSettings is setContainerResourceDefaults: overrides win field by field over the defaults.
func containerResourceSettings(overrides []containerResources) map[string]resourceSpec {
	result := map[string]resourceSpec{}
	for _, o := range overrides {
		result[o.ContainerName] = resourceSpec{cpuRequest: o.CPURequest, cpuLimit: o.CPULimit, memoryRequest: o.MemoryRequest, memoryLimit: o.MemoryLimit}
	}
	pick := func(override, def resource.Quantity) resource.Quantity {
		if !override.IsZero() {
			return override
		}
		return def
	}
	for name, def := range resourceDefaults() {
		o, found := result[name]
		if !found {
			result[name] = def
			continue
		}
		result[name] = resourceSpec{
			cpuRequest:    pick(o.cpuRequest, def.cpuRequest),
			cpuLimit:      pick(o.cpuLimit, def.cpuLimit),
			memoryRequest: pick(o.memoryRequest, def.memoryRequest),
			memoryLimit:   pick(o.memoryLimit, def.memoryLimit),
		}
	}
	return result
}

func mutateContainerResources(c *corev1.Container, settings map[string]resourceSpec) {
	r, ok := settings[c.Name]
	if !ok {
		return
	}
	set := func(list *corev1.ResourceList, name corev1.ResourceName, value resource.Quantity) {
		if value.IsZero() {
			return
		}
		if *list == nil {
			*list = corev1.ResourceList{}
		}
		(*list)[name] = value
	}
	set(&c.Resources.Requests, corev1.ResourceCPU, r.cpuRequest)
	set(&c.Resources.Limits, corev1.ResourceCPU, r.cpuLimit)
	set(&c.Resources.Requests, corev1.ResourceMemory, r.memoryRequest)
	set(&c.Resources.Limits, corev1.ResourceMemory, r.memoryLimit)
}

// containerLogLevels is setContainerLogLevelDefaults: 0 for every container except git-sync and otel-agent (5).
func containerLogLevels(overrides []logLevelOverride) map[string]int {
	levels := map[string]int{
		containerReconciler: 0, containerHydration: 0, containerOciSync: 0, containerHelmSync: 0,
		containerGitSync: 5, containerAskpass: 0, containerOtelAgent: 5,
	}
	for _, o := range overrides {
		levels[o.ContainerName] = o.LogLevel
	}
	return levels
}

var zapLevelNames = map[int]string{-1: "debug", 0: "info", 1: "warn", 2: "error", 3: "dpanic", 4: "panic", 5: "fatal"}

// mutateContainerLogLevel drops the first -v= arg and appends the container's level: -v=N, or for otel-agent the
// zap level (fatal minus N, at least debug).
func mutateContainerLogLevel(c *corev1.Container, levels map[string]int) {
	for i, arg := range c.Args {
		if strings.HasPrefix(arg, "-v=") {
			c.Args = append(append([]string{}, c.Args[:i]...), c.Args[i+1:]...)
			break
		}
	}
	level, ok := levels[c.Name]
	if !ok {
		return
	}
	if c.Name == containerOtelAgent {
		zap := 5 - max(level, 0)
		if zap < -1 {
			zap = -1
		}
		c.Args = append(c.Args, "--set=service.telemetry.logs.level="+zapLevelNames[zap])
		return
	}
	c.Args = append(c.Args, fmt.Sprintf("-v=%d", level))
}
