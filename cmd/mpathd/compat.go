package main

import (
	"fmt"
	"log/slog"
	"net"

	"github.com/mpathd/mpathd/internal/version"
	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/mpathcompat"
)

// multipathdSocket is the -multipathd-socket flag: serve multipathd's protocol too, so the tools
// written for multipathd (its own client, os-brick, Trident, vdsm, …) work unchanged.
var multipathdSocket bool

// multipathdServer opens multipathd's sockets (or takes those systemd passed) for the daemon;
// shutdown is what the shutdown command does.
func multipathdServer(svc api.Service, log *slog.Logger, shutdown func()) (*mpathcompat.Server, []net.Listener, error) {
	ls, err := mpathcompat.Listen()
	if err != nil {
		return nil, nil, fmt.Errorf("multipathd socket: %w", err)
	}
	return &mpathcompat.Server{Service: svc, Log: log, Version: version.String(), Shutdown: shutdown}, ls, nil
}
