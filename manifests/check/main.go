// manifest-check validates rendered Kubernetes manifests (the output of `kustomize build`) without a cluster:
// every document must decode strictly (unknown or duplicate fields are errors) into a type the Kubernetes API or
// the Prometheus operator defines, the references between objects must resolve, every Envoy bootstrap found in a
// ConfigMap (a key ending in envoy.yaml) must validate against Envoy's API, as must the SDS files it reads from a
// mounted ConfigMap (a DiscoveryResponse of one v3 Secret), and with -settings the broker's
// ConfigMaps may set only the variables listed in that file (one a line; a trailing * makes a prefix).
//
//	kustomize build manifests/overlays/dev | manifest-check -settings names.txt
//	manifest-check rendered.yaml other.yaml
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	settingsFile := flag.String("settings", "", "file of the environment variables the broker reads (one a line; NAME* = a prefix)")
	flag.Parse()
	if err := run(flag.Args(), *settingsFile, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "manifest-check:", err)
		os.Exit(1)
	}
}

func readSettings(path string) (Settings, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	settings := Settings{}
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		if line := strings.TrimSpace(scanner.Text()); line != "" {
			settings = append(settings, line)
		}
	}
	if len(settings) == 0 {
		return nil, fmt.Errorf("%s lists no settings", path)
	}
	return settings, scanner.Err()
}

func run(paths []string, settingsFile string, stdin io.Reader, stdout io.Writer) error {
	settings, err := readSettings(settingsFile)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		paths = []string{"-"}
	}
	failed := 0
	for _, path := range paths {
		var in io.Reader = stdin
		if path != "-" {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			in = f
		}
		report, err := CheckStream(in, settings)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for _, problem := range report.Problems {
			fmt.Fprintf(stdout, "%s: %s\n", path, problem)
		}
		failed += len(report.Problems)
		fmt.Fprintf(stdout, "%s: %d objects, %d Envoy configurations, %d SDS files, %d problems\n", path, report.Objects, report.EnvoyConfigs, report.SdsFiles, len(report.Problems))
	}
	if failed > 0 {
		return fmt.Errorf("%d problems", failed)
	}
	return nil
}
