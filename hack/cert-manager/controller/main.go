// A minimal cert-manager controller: the Certificate, CertificateRequest (self-signed and CA
// issuers, auto-approval) and Issuer controllers of cert-manager's own packages, wired the way
// cmd/controller does (that nested module is not on the Go module proxy).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"k8s.io/klog/v2"

	logf "github.com/cert-manager/cert-manager/pkg/logs"
	controllerpkg "github.com/cert-manager/cert-manager/pkg/controller"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/ca"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/selfsigned"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	_ "github.com/cert-manager/cert-manager/pkg/controller/issuers"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned"
)

var controllers = []string{
	"issuers",
	"certificaterequests-approver",
	"certificaterequests-issuer-ca",
	"certificaterequests-issuer-selfsigned",
	"certificates-trigger",
	"certificates-key-manager",
	"certificates-request-manager",
	"certificates-issuing",
	"certificates-readiness",
	"certificates-revision-manager",
}

func main() {
	kubeconfig := flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig")
	namespace := flag.String("namespace", "", "only this namespace (default all)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx = logf.NewContext(ctx, klog.Background(), "cert-manager")

	opts := controllerpkg.ContextOptions{Kubeconfig: *kubeconfig, Namespace: *namespace, KubernetesAPIQPS: 50, KubernetesAPIBurst: 100}
	opts.ClusterResourceNamespace = "cert-manager"
	opts.CertificateRequestMinimumBackoffDuration = 1e9
	opts.CertificateRequestMaximumBackoffDuration = 30e9
	factory, err := controllerpkg.NewContextFactory(ctx, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var wg sync.WaitGroup
	for _, name := range controllers {
		constructor, ok := controllerpkg.Known()[name]
		if !ok {
			fmt.Fprintf(os.Stderr, "controller %s is not registered\n", name)
			os.Exit(1)
		}
		iface, err := constructor(factory)
		if err != nil {
			fmt.Fprintf(os.Stderr, "controller %s: %v\n", name, err)
			os.Exit(1)
		}
		wg.Add(1)
		go func(name string) {
			defer wg.Done()
			if err := iface.Run(2, ctx); err != nil {
				fmt.Fprintf(os.Stderr, "controller %s: %v\n", name, err)
			}
		}(name)
	}
	shared, err := factory.Build("informers")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shared.KubeSharedInformerFactory.Start(ctx.Done())
	shared.SharedInformerFactory.Start(ctx.Done())
	fmt.Fprintln(os.Stderr, "cert-manager controllers started:", controllers)
	<-ctx.Done()
	wg.Wait()
}
