// manifest-check validates rendered Kubernetes manifests (the output of `kustomize build`) without a cluster:
// every document must decode strictly (unknown or duplicate fields are errors) into a type the Kubernetes API or
// the Prometheus operator defines, the references between objects must resolve, and every Envoy bootstrap found
// in a ConfigMap (a key ending in envoy.yaml) must validate against Envoy's API.
//
//	kustomize build manifests/overlays/dev | manifest-check
//	manifest-check rendered.yaml other.yaml
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "manifest-check:", err)
		os.Exit(1)
	}
}

func run(paths []string, stdin io.Reader, stdout io.Writer) error {
	inputs := map[string]io.Reader{}
	names := []string{}
	if len(paths) == 0 {
		inputs["<stdin>"] = stdin
		names = append(names, "<stdin>")
	}
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		inputs[path] = f
		names = append(names, path)
	}
	failed := 0
	for _, name := range names {
		report, err := CheckStream(inputs[name])
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		for _, problem := range report.Problems {
			fmt.Fprintf(stdout, "%s: %s\n", name, problem)
		}
		failed += len(report.Problems)
		fmt.Fprintf(stdout, "%s: %d objects, %d Envoy configurations, %d problems\n", name, report.Objects, report.EnvoyConfigs, len(report.Problems))
	}
	if failed > 0 {
		return fmt.Errorf("%d problems", failed)
	}
	return nil
}
