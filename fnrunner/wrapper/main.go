// Command fnwrapper runs inside every function pod and executes the function's entrypoint once per
// EvaluateFunction call (the same gRPC contract as the function runner: fnrunner/api/evaluator.proto).
//
// It is a static Go binary (CGO_ENABLED=0) because it must run inside arbitrary function images, most of
// them distroless: no shell, no libc guarantees, no Python. The pod's init container copies it out of the
// wrapper image with `fnwrapper --install DEST`, so the wrapper image needs no shell either.
//
// Usage: fnwrapper [--address A] [--port 9446] [--max-request-body-size N] -- ENTRYPOINT [ARGS...]
//
//	fnwrapper --install DEST
//
// Per call: the ResourceList goes to the entrypoint's stdin; stdout is the response's resource_list and
// stderr its log. The call's deadline bounds the run (the process group is killed when it passes); stdout
// beyond the message limit kills the run with RESOURCE_EXHAUSTED. A non-zero exit answers INTERNAL with a
// message naming the image, the exit code and a stderr tail, and with trailing metadata fn-exit-code,
// fn-stderr-bin and fn-results-bin (the structured results of stdout, JSON) exactly as
// fnrunner/api/failures.py describes.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"fnwrapper/evaluator"

	"go.yaml.in/yaml/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

const (
	stderrKeep       = 256 * 1024
	stderrTailMeta   = 4096
	resultsMeta      = 4096
	messageStderrCap = 1024
)

type server struct {
	evaluator.UnimplementedFunctionEvaluatorServer
	entrypoint []string
	maxOutput  int
}

// limitedBuffer keeps up to max bytes and reports overflow instead of growing.
type limitedBuffer struct {
	buf      bytes.Buffer
	max      int
	overflow bool
	onFull   func()
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.buf.Len()+len(p) > b.max {
		if !b.overflow {
			b.overflow = true
			b.onFull()
		}
		return len(p), nil
	}
	return b.buf.Write(p)
}

// tailBuffer keeps the last max bytes written.
type tailBuffer struct {
	data []byte
	max  int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.data = append(t.data, p...)
	if len(t.data) > t.max {
		t.data = append([]byte(nil), t.data[len(t.data)-t.max:]...)
	}
	return len(p), nil
}

func tail(data []byte, n int) []byte {
	if len(data) > n {
		return data[len(data)-n:]
	}
	return data
}

// resultsJSON returns the longest prefix of the output's `results` whose JSON fits in limit bytes.
func resultsJSON(stdout []byte, limit int) []byte {
	var parsed struct {
		Results []map[string]any `yaml:"results"`
	}
	if err := yaml.Unmarshal(stdout, &parsed); err != nil || len(parsed.Results) == 0 {
		return []byte("[]")
	}
	best := []byte("[]")
	for i := 1; i <= len(parsed.Results); i++ {
		encoded, err := json.Marshal(parsed.Results[:i])
		if err != nil || len(encoded) > limit {
			break
		}
		best = encoded
	}
	return best
}

func (s *server) EvaluateFunction(ctx context.Context, req *evaluator.EvaluateFunctionRequest) (*evaluator.EvaluateFunctionResponse, error) {
	cmd := exec.CommandContext(ctx, s.entrypoint[0], s.entrypoint[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	cmd.Stdin = bytes.NewReader(req.ResourceList)
	stdout := &limitedBuffer{max: s.maxOutput, onFull: func() {
		if cmd.Process != nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	}}
	stderr := &tailBuffer{max: stderrKeep}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		return nil, status.Errorf(codes.DeadlineExceeded, "function %q did not finish before the deadline and was stopped", req.Image)
	}
	if stdout.overflow {
		return nil, status.Errorf(codes.ResourceExhausted, "function %q wrote more than %d bytes to stdout and was stopped", req.Image, s.maxOutput)
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		code := exitErr.ExitCode()
		if code < 0 {
			code = 128 + int(exitErr.Sys().(syscall.WaitStatus).Signal())
		}
		trailer := metadata.Pairs(
			"fn-exit-code", strconv.Itoa(code),
			"fn-stderr-bin", string(tail(stderr.data, stderrTailMeta)),
			"fn-results-bin", string(resultsJSON(stdout.buf.Bytes(), resultsMeta)),
		)
		if len(stderr.data) > stderrTailMeta {
			trailer.Append("fn-truncated", "true")
		}
		_ = grpc.SetTrailer(ctx, trailer)
		message := string(bytes.TrimSpace(tail(stderr.data, messageStderrCap)))
		if len(stderr.data) > messageStderrCap {
			message = "..." + message
		}
		return nil, status.Errorf(codes.Internal, "Failed to execute function %q: exit status %d (%s)", req.Image, code, message)
	}
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "cannot run the function entrypoint %q: %v", s.entrypoint[0], err)
	}
	return &evaluator.EvaluateFunctionResponse{ResourceList: stdout.buf.Bytes(), Log: stderr.data}, nil
}

func install(dest string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	in, err := os.Open(self)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dest, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func main() {
	address := flag.String("address", "", "address to listen on (default: all interfaces)")
	port := flag.Int("port", 9446, "port to listen on")
	maxBody := flag.Int("max-request-body-size", 6*1024*1024, "largest gRPC message sent or received, bytes")
	installTo := flag.String("install", "", "copy this binary to the given path and exit")
	flag.Parse()
	if *installTo != "" {
		if err := install(*installTo); err != nil {
			log.Fatalf("install: %v", err)
		}
		return
	}
	entrypoint := flag.Args()
	if len(entrypoint) == 0 {
		log.Fatal("the function entrypoint must follow `--`")
	}
	listener, err := net.Listen("tcp", net.JoinHostPort(*address, strconv.Itoa(*port)))
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	grpcServer := grpc.NewServer(grpc.MaxRecvMsgSize(*maxBody), grpc.MaxSendMsgSize(*maxBody))
	evaluator.RegisterFunctionEvaluatorServer(grpcServer, &server{entrypoint: entrypoint, maxOutput: *maxBody - 1024})
	healthServer := health.NewServer()
	healthServer.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(grpcServer, healthServer)
	fmt.Fprintf(os.Stderr, "fnwrapper listening on %s, running %v\n", listener.Addr(), entrypoint)
	if err := grpcServer.Serve(listener); err != nil {
		log.Fatalf("serve: %v", err)
	}
}
