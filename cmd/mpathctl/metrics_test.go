package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mpathd/mpathd/pkg/api/apitest"
	"github.com/mpathd/mpathd/pkg/control"
	"github.com/mpathd/mpathd/pkg/metrics"
)

// show metrics prints the exposition the daemon renders, in the text format node_exporter's
// textfile collector parses; a daemon without metrics is an error.
func TestShowMetrics(t *testing.T) {
	fake := apitest.New(fixture())
	for _, withMetrics := range []bool{true, false} {
		path := filepath.Join(t.TempDir(), "mpathd.sock")
		l, err := control.Listen(path)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		srv := &control.Server{Service: fake}
		if withMetrics {
			srv.Metrics = metrics.New(fake, metrics.Options{Version: "test"}).WriteText
		}
		done := make(chan error)
		go func() { done <- srv.Serve(ctx, l) }()
		out, errOut, code := mpathctl(t, path, "show", "metrics")
		cancel()
		<-done
		if !withMetrics {
			if code != 1 || !strings.Contains(errOut, "no metrics") {
				t.Errorf("without metrics: exit %d, stderr %q", code, errOut)
			}
			continue
		}
		if code != 0 || errOut != "" {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		p := expfmt.NewTextParser(model.LegacyValidation)
		mfs, err := p.TextToMetricFamilies(strings.NewReader(out))
		if err != nil {
			t.Fatalf("output does not parse: %v", err)
		}
		found := false
		for _, m := range mfs["mpathd_path_checker_state"].GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.Label {
				labels[lp.GetName()] = lp.GetValue()
			}
			found = found || labels["map"] == "data" && labels["state"] == "down" && m.GetGauge().GetValue() == 1
		}
		if !found {
			t.Errorf("the failed path of map data is not down in:\n%s", out)
		}
	}
}
