// Package deploy_test checks the deployment files: the Kubernetes manifests
// decode strictly into the typed k8s.io/api objects (an unknown or misspelt
// field fails), hold the properties the daemon relies on, and the
// configuration they carry loads. It is its own package so that the
// Kubernetes modules weigh on no other build. The systemd unit is checked
// by scripts/check-deploy.sh (systemd-analyze verify).
package deploy_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"

	"github.com/evidence-auditd/evidence-auditd/internal/config"
)

// decode reads a manifest strictly into obj: unknown fields are errors.
func decode(tb testing.TB, name string, obj any) {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("kubernetes", name))
	if err != nil {
		tb.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, obj); err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
}

func TestManifestsDecodeStrictly(t *testing.T) {
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]func() any{
		"ConfigMap":             func() any { return &corev1.ConfigMap{} },
		"Secret":                func() any { return &corev1.Secret{} },
		"PersistentVolumeClaim": func() any { return &corev1.PersistentVolumeClaim{} },
		"Deployment":            func() any { return &appsv1.Deployment{} },
		"CronJob":               func() any { return &batchv1.CronJob{} },
		"NetworkPolicy":         func() any { return &networkingv1.NetworkPolicy{} },
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var head struct {
			Kind string `json:"kind"`
		}
		if err := yaml.Unmarshal(data, &head); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		mk, ok := known[head.Kind]
		if !ok {
			t.Errorf("%s: kind %q has no typed check here", f, head.Kind)
			continue
		}
		decode(t, filepath.Base(f), mk())
	}
}

func TestStrictDecodingCatchesTypos(t *testing.T) {
	var d appsv1.Deployment
	err := yaml.UnmarshalStrict([]byte("apiVersion: apps/v1\nkind: Deployment\nspec:\n  replica: 1\n"), &d)
	if err == nil || !strings.Contains(err.Error(), "replica") {
		t.Errorf("a misspelt field decoded: %v", err)
	}
}

func podSecurity(t *testing.T, what string, pod corev1.PodSpec) {
	t.Helper()
	if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
		t.Errorf("%s: pod securityContext.runAsNonRoot must be true", what)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("%s: automountServiceAccountToken must be false (no Kubernetes API access needed)", what)
	}
	for _, c := range pod.Containers {
		sc := c.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("%s/%s: readOnlyRootFilesystem must be true", what, c.Name)
		}
		if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s/%s: allowPrivilegeEscalation must be false", what, c.Name)
		}
	}
	cm := map[string]bool{}
	for _, v := range pod.Volumes {
		switch {
		case v.PersistentVolumeClaim != nil:
			cm["pvc"] = true
		case v.Secret != nil:
			cm["secret"] = true
		}
	}
	if !cm["pvc"] || !cm["secret"] {
		t.Errorf("%s: want the ledger on a PersistentVolumeClaim and the token from a Secret, volumes %v", what, cm)
	}
	grace := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
	if want := time.Duration(cfg(t).ShutdownGrace); grace <= want {
		t.Errorf("%s: terminationGracePeriodSeconds %v must exceed shutdownGrace %v", what, grace, want)
	}
}

func TestDeployment(t *testing.T) {
	var d appsv1.Deployment
	decode(t, "deployment.yaml", &d)
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		t.Errorf("replicas = %v, want 1", d.Spec.Replicas)
	}
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("strategy = %q, want Recreate", d.Spec.Strategy.Type)
	}
	podSecurity(t, "deployment", d.Spec.Template.Spec)
	c := d.Spec.Template.Spec.Containers[0]
	if len(c.Args) == 0 || c.Args[0] != "serve" {
		t.Errorf("args = %v, want serve", c.Args)
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("probes must use /healthz and /readyz")
	}
}

func TestCronJob(t *testing.T) {
	var cj batchv1.CronJob
	decode(t, "cronjob.yaml", &cj)
	if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
		t.Errorf("concurrencyPolicy = %q, want Forbid", cj.Spec.ConcurrencyPolicy)
	}
	if _, err := config.CronParser.Parse(cj.Spec.Schedule); err != nil {
		t.Errorf("schedule %q: %v", cj.Spec.Schedule, err)
	}
	pod := cj.Spec.JobTemplate.Spec.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy = %q, want Never", pod.RestartPolicy)
	}
	if args := pod.Containers[0].Args; len(args) == 0 || args[0] != "run" {
		t.Errorf("args = %v, want run", args)
	}
	podSecurity(t, "cronjob", pod)
}

// cfg loads the configuration the ConfigMap carries, strictly.
func cfg(tb testing.TB) *config.Config {
	tb.Helper()
	var cm corev1.ConfigMap
	decode(tb, "configmap.yaml", &cm)
	// The token file is the Secret's mount; stand one in.
	dir := tb.TempDir()
	tok := filepath.Join(dir, "github-token")
	if err := os.WriteFile(tok, []byte("ghp_test\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	text := strings.ReplaceAll(cm.Data["config.yaml"], "/run/secrets/evidence-auditd/github-token", tok)
	p := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		tb.Fatal(err)
	}
	c, err := config.Load(p, func(string) string { return "" })
	if err == nil {
		err = c.Finalize()
	}
	if err != nil {
		tb.Fatalf("configmap config.yaml: %v", err)
	}
	return c
}

func TestConfigMapConfigLoads(t *testing.T) {
	c := cfg(t)
	if c.Issues.GitHub.TokenFile == "" {
		t.Error("the token should come from the mounted Secret (issues.github.tokenFile)")
	}
}
