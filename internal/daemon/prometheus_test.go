package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpathd/mpathd/pkg/checker"
	"github.com/mpathd/mpathd/pkg/metrics"
	"github.com/mpathd/mpathd/pkg/metrics/promtest"
	"github.com/mpathd/mpathd/pkg/selector"
)

// scrapeInterval is the test server's scrape and evaluation interval.
const scrapeInterval = time.Second

// promServer is a real Prometheus (Debian's package) scraping one target on loopback, with its
// data in a temporary directory, killed when the test ends.
type promServer struct {
	t    *testing.T
	base string // http://127.0.0.1:PORT
	log  bytes.Buffer
}

func startPrometheus(t *testing.T, target string) *promServer {
	t.Helper()
	bin := promtest.RequireTool(t, "prometheus")
	dir := t.TempDir()
	cfg := fmt.Sprintf("global:\n  scrape_interval: %s\n  evaluation_interval: %s\nscrape_configs:\n  - job_name: mpathd\n    static_configs:\n      - targets: ['%s']\n",
		scrapeInterval, scrapeInterval, target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	// A free port for Prometheus' own listener: Prometheus cannot report one it chose.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	web := l.Addr().String()
	l.Close()
	// The server lives at most as long as the test may: a stuck test does not leave it behind.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	p := &promServer{t: t, base: "http://" + web}
	cmd := exec.CommandContext(ctx, bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+web, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = &p.log, &p.log
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel() // kills the process
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", p.log.String())
		}
	})
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(p.base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("prometheus not ready: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// result is one element of a query's vector or matrix result.
type result struct {
	Metric map[string]string `json:"metric"`
	Value  []any             `json:"value"`  // [ts, "v"] for a vector
	Values [][]any           `json:"values"` // [[ts, "v"], …] for a matrix
}

// query runs an instant query; a failing query fails the test.
func (p *promServer) query(expr string) []result {
	p.t.Helper()
	var out struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []result `json:"result"`
		} `json:"data"`
	}
	p.get("/api/v1/query?query="+url.QueryEscape(expr), &out)
	if out.Status != "success" {
		p.t.Fatalf("query %s: %s", expr, out.Error)
	}
	return out.Data.Result
}

func (p *promServer) get(path string, out any) {
	p.t.Helper()
	resp, err := http.Get(p.base + path)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		p.t.Fatalf("GET %s: %v", path, err)
	}
}

// await polls until cond holds, for at most a minute; it fails the test with what when it never
// does. It waits for Prometheus; it measures nothing.
func (p *promServer) await(what string, cond func() bool) {
	p.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			p.t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func sampleValue(v []any) float64 {
	s, _ := v[1].(string)
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

func sampleTime(v []any) time.Time {
	f, _ := v[0].(float64)
	return time.UnixMilli(int64(f*1000 + 0.5))
}

// A real Prometheus scrapes a daemon on the fake kernel. The first scrape after a failover shows
// the failed path and the failover counted, and every query of the Grafana dashboard returns data.
func TestPrometheusScrapesDaemon(t *testing.T) {
	stats := &constStats{s: selector.Stats{Valid: true, ReadIOPS: 100, ReadBytesPerSec: 409600, InFlightNow: 2, ServiceTime: time.Millisecond}}
	// LUN 1 queues under no_path_retry: the dashboard's queueing panels need a queueing map.
	r := newRigWith(t, san(2, 2), "[defaults]\nno_path_retry = 100\n", nil, func(o *Options) { o.Stats = stats })
	exp := metrics.New(r.d, metrics.Options{Version: "test", StallLimit: time.Minute, Load: true})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", exp.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	// Checks keep coming, with their latencies, as from the real runner.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			r.d.PathChecked("sdc", CheckResult{State: checker.Up, Prio: 10, PrioName: "sysfs", Took: time.Duration(1+i%5) * time.Millisecond})
		}
	}()
	t.Cleanup(func() { close(stop); wg.Wait() })

	p := startPrometheus(t, ln.Addr().String())
	p.await("a first scrape of mpathd", func() bool {
		res := p.query(`mpathd_map_group_changes_total{map="` + lun0 + `"}`)
		return len(res) == 1
	})
	if v := sampleValue(p.query(`mpathd_map_group_changes_total{map="` + lun0 + `"}`)[0].Value); v != 0 {
		t.Fatalf("failovers before the failure: %v", v)
	}
	if res := p.query(`mpathd_path_checker_state{path="sda",state="down"}`); len(res) != 0 {
		t.Fatalf("sda down before the failure: %v", res)
	}

	failover(t, r)
	// LUN 1 loses both paths and queues.
	r.check("sdb", checker.Down)
	r.check("sdd", checker.Down)
	r.settle()
	applied := time.Now()

	// The first scrape that began after the failure was applied shows it: every scrape's up sample
	// is stamped with the scrape's start, and the down series has a sample at that very time.
	var first time.Time
	p.await("a scrape after the failure", func() bool {
		res := p.query(`up{job="mpathd"}[5m]`)
		for _, v := range res[0].Values {
			if ts := sampleTime(v); !ts.Before(applied.Truncate(time.Millisecond).Add(time.Millisecond)) {
				first = ts
				return true
			}
		}
		return false
	})
	p.await("the scrape's samples to be queryable", func() bool {
		return len(p.query(fmt.Sprintf(`mpathd_path_checker_state{path="sda",state="down"} @ %.3f`, float64(first.UnixMilli())/1000))) > 0
	})
	res := p.query(`mpathd_path_checker_state{path="sda",state="down"}[5m]`)
	if len(res) != 1 || len(res[0].Values) == 0 {
		t.Fatalf("no down series for sda: %v", res)
	}
	if got := sampleTime(res[0].Values[0]); !got.Equal(first) {
		t.Errorf("sda is first down at %v, the first scrape after the failure (%v after it) was at %v", got, first.Sub(applied), first)
	}
	t.Logf("failure applied → first scrape showing it: %v (scrape interval %v)", first.Sub(applied), scrapeInterval)
	if v := sampleValue(p.query(fmt.Sprintf(`mpathd_map_group_changes_total{map="%s"} @ %.3f`, lun0, float64(first.UnixMilli())/1000))[0].Value); v != 1 {
		t.Errorf("failovers counted at the first scrape after the failure: %v, want 1", v)
	}
	if v := p.query(`mpathd_path_dm_state{path="sda",state="failed"}`); len(v) != 1 {
		t.Errorf("sda not failed in the kernel: %v", v)
	}

	checkDashboard(t, p)
}

// checkDashboard runs every query of configs/grafana-mpathd.json (Grafana's variables replaced by
// what "All" and a short range give) and wants data from each; the template variables' label
// queries must find values too.
func checkDashboard(t *testing.T, p *promServer) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "configs", "grafana-mpathd.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Query struct {
					Query string `json:"query"`
				} `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	vars := strings.NewReplacer("$instance", ".*", "$map", ".*", "$__rate_interval", "1m", "$__interval", "15s", "$__range", "5m")
	n := 0
	for _, panel := range dash.Panels {
		for _, target := range panel.Targets {
			expr := vars.Replace(target.Expr)
			// A stat's "or vector(0)" would return data whatever happened: ask for the real thing,
			// except where 0 is the healthy answer (no stuck daemon).
			if !strings.Contains(expr, "== 0") {
				expr = strings.TrimSuffix(expr, " or vector(0)")
			}
			n++
			p.await(fmt.Sprintf("data for panel %q: %s", panel.Title, expr), func() bool { return len(p.query(expr)) > 0 })
		}
	}
	labelValues := regexp.MustCompile(`^label_values\((.*), *(\w+)\)$`)
	for _, v := range dash.Templating.List {
		m := labelValues.FindStringSubmatch(vars.Replace(v.Query.Query))
		if m == nil {
			t.Errorf("variable %s: query %q is not label_values(selector, label)", v.Name, v.Query.Query)
			continue
		}
		var out struct {
			Data []string `json:"data"`
		}
		p.get("/api/v1/label/"+m[2]+"/values?match[]="+url.QueryEscape(m[1]), &out)
		if len(out.Data) == 0 {
			t.Errorf("variable %s: no values for %s", v.Name, v.Query.Query)
		}
	}
	if n < 15 {
		t.Errorf("only %d dashboard queries", n)
	}
}
