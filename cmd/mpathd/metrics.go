package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/mpathd/mpathd/pkg/metrics"
)

// serveMetrics serves the Prometheus exposition on addr (metrics_listen) until ctx ends. The
// listener is plain HTTP without authentication, meant for loopback or a local reverse proxy. A
// listener that cannot be opened, or that fails later, is logged and costs only the metrics: the
// daemon keeps the maps whatever happens to its metrics. It returns the address it listens on, nil
// when it could not listen.
func serveMetrics(ctx context.Context, addr string, exp *metrics.Exporter, log zerolog.Logger) net.Addr {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Error().Err(err).Str("metrics_listen", addr).Msg("metrics: cannot listen; running without the metrics endpoint")
		return nil
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", exp.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})
	log.Info().Str("address", ln.Addr().String()).Msg("metrics: serving /metrics")
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("metrics: endpoint stopped; the daemon goes on without it")
		}
	}()
	return ln.Addr()
}
