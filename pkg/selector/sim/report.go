package sim

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable writes one scenario's results as an aligned text table.
func WriteTable(w io.Writer, sc Scenario, results []Result) error {
	if _, err := fmt.Fprintf(w, "scenario %s\n", sc.Name); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "policy\tMB/s\tIOPS\tmean ms\tp99 ms\tshare per path\tweights\treloads\tother MB/s\t")
	for _, r := range results {
		shares := make([]string, len(r.Share))
		for i, s := range r.Share {
			shares[i] = fmt.Sprintf("%.0f%%", 100*s)
		}
		weights := "-"
		if r.Weights != nil {
			ws := make([]string, len(r.Weights))
			for i, x := range r.Weights {
				ws[i] = fmt.Sprint(x)
			}
			weights = strings.Join(ws, "/")
		}
		reloads := "-"
		if r.Policy == ServiceTimeAdaptive {
			reloads = fmt.Sprint(r.Reloads)
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%.0f\t%.3f\t%.3f\t%s\t%s\t%s\t%.1f\t\n", r.Policy, r.Throughput/1e6, r.IOPS,
			float64(r.MeanLatency.Microseconds())/1000, float64(r.P99Latency.Microseconds())/1000,
			strings.Join(shares, "/"), weights, reloads, r.OtherThroughput/1e6)
	}
	return tw.Flush()
}
