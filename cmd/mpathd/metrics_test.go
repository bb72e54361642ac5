package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/mpathd/mpathd/pkg/api/apitest"
	"github.com/mpathd/mpathd/pkg/metrics"
)

// The endpoint serves /metrics on loopback; an address already taken costs only the endpoint.
func TestServeMetrics(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exp := metrics.New(apitest.New(apitest.Generate(1, 2, 2)), metrics.Options{Version: "test"})
	addr := serveMetrics(ctx, "127.0.0.1:0", exp, zerolog.Nop())
	if addr == nil {
		t.Fatal("no listener")
	}
	resp, err := http.Get("http://" + addr.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `mpathd_build_info{goversion="go`) ||
		!strings.Contains(string(body), `mpathd_path_checker_state{map="mpatha",path="sdb",state="up"} 1`) {
		t.Fatalf("status %d:\n%s", resp.StatusCode, body)
	}
	if again := serveMetrics(ctx, addr.String(), exp, zerolog.Nop()); again != nil {
		t.Errorf("a second listener on %s: %v", addr, again)
	}
}
