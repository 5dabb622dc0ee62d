// porch-kstatus prints kstatus's reading of Kubernetes objects: the computation Flux's health checks
// (`wait: true`, `healthChecks`) and kpt use, from sigs.k8s.io/cli-utils/pkg/kstatus/status.
//
// Input on stdin: a JSON list of objects. Output on stdout: a JSON list of {"status", "message"}, one per
// object, with status Current, InProgress, Failed, Terminating, NotFound or Unknown. The tests run it on
// objects the operator wrote (tests/e2e/packaging/test_health_of_real_objects.py).
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type reading struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

func main() {
	var objects []json.RawMessage
	if err := json.NewDecoder(os.Stdin).Decode(&objects); err != nil {
		fmt.Fprintln(os.Stderr, "porch-kstatus: reading the objects:", err)
		os.Exit(2)
	}
	readings := make([]reading, 0, len(objects))
	for _, raw := range objects {
		// Unstructured's own decoding keeps integers as int64, as the API machinery expects.
		object := &unstructured.Unstructured{}
		if err := object.UnmarshalJSON(raw); err != nil {
			fmt.Fprintln(os.Stderr, "porch-kstatus: reading an object:", err)
			os.Exit(2)
		}
		result, err := status.Compute(object)
		if err != nil {
			fmt.Fprintln(os.Stderr, "porch-kstatus:", err)
			os.Exit(1)
		}
		readings = append(readings, reading{Status: result.Status.String(), Message: result.Message})
	}
	if err := json.NewEncoder(os.Stdout).Encode(readings); err != nil {
		fmt.Fprintln(os.Stderr, "porch-kstatus: writing:", err)
		os.Exit(1)
	}
}
