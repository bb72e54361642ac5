package linux

import (
	"github.com/mpathd/mpathd/internal/daemon"
	"github.com/mpathd/mpathd/pkg/checker/sgio"
)

// PRDevices opens /dev/NAME for the daemon's persistent reservation commands.
type PRDevices struct{}

// Open implements daemon.PRDevices.
func (PRDevices) Open(dev string) (daemon.PRDevice, error) {
	f, err := sgio.Open("/dev/" + dev)
	if err != nil {
		return nil, err
	}
	return f, nil
}
