package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/mpathd/mpathd/pkg/api"
	"github.com/mpathd/mpathd/pkg/checker"
	"github.com/mpathd/mpathd/pkg/checker/sgio"
	"github.com/mpathd/mpathd/pkg/config"
	"github.com/mpathd/mpathd/pkg/config/mpconf"
	"github.com/mpathd/mpathd/pkg/kerneltopo"
	"github.com/mpathd/mpathd/pkg/sysfs"
)

type prober = kerneltopo.Prober

// kernelProber checks each path once with the checker and prioritizer the
// configuration gives its map, as multipath -ll does: a standby path answers
// ghost, an offline one faulty, and priorities come from ALUA as the daemon
// rates them.
type kernelProber struct {
	cfg     *config.Config
	sysRoot string
	devRoot string
}

func newKernelProber(cfg *config.Config) prober {
	return kernelProber{cfg: cfg, sysRoot: "/sys", devRoot: "/dev"}
}

// probeTimeout bounds one path's check and rating, so a hung device delays
// the listing by seconds, not by the SCSI timeout.
const probeTimeout = 10 * time.Second

func (k kernelProber) Probe(ctx context.Context, m api.Map, p sysfs.Path) kerneltopo.Probe {
	res := k.cfg.Resolve(m.WWID, p.Vendor, p.Model, p.Rev)
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	cp := &checker.Path{
		Name:          p.Name,
		HBTL:          p.HCTL.String(),
		WWID:          p.WWID,
		Attr:          checker.SysfsAttr(k.sysRoot, p.Name),
		Timeout:       time.Duration(max(p.Timeout, 1)) * time.Second,
		ByPathDir:     filepath.Join(k.devRoot, "disk", "by-path"),
		PortalAddress: p.Transport.Address,
	}
	if p.Transport.NodeName != "" {
		cp.WWN = p.Transport.NodeName + ":" + p.Transport.PortName
	}
	dev := filepath.Join(k.devRoot, p.Name)
	if sg, err := sgio.Open(dev); err == nil {
		defer sg.Close()
		cp.SG = sg
	}
	choice := checker.Choose(ctx, cp, res.CheckerSpec())
	ck, pr := choice.Checker, choice.Prioritizer
	if ck.Name() == checker.NameDirectIO || pr.Name() == checker.PrioNamePathLatency {
		if d, err := checker.OpenDirect(dev); err == nil {
			defer d.Close()
			cp.Direct = d
			if bs, err := d.LogicalBlockSize(); err == nil {
				cp.BlockSize = bs
			}
		}
	}
	r := ck.Check(ctx, cp)
	out := kerneltopo.Probe{State: r.State.String(), Checker: ck.Name()}
	if !r.State.Usable() {
		return out
	}
	if v, err := pr.Prio(ctx, cp); err == nil {
		out.Prio = v
	}
	return out
}

// dumpConfig prints the effective configuration in multipath.conf syntax,
// every setting included as multipath -t prints it: config.Dump spells out
// the effective values (defaults, the built-in hardware table), which read
// back as a configuration mpconf renders.
func dumpConfig(w io.Writer, cfg *config.Config) error {
	var b bytes.Buffer
	if err := cfg.Dump(&b); err != nil {
		return err
	}
	full, err := config.Parse(b.Bytes(), "effective configuration")
	if err != nil {
		return fmt.Errorf("read back the effective configuration: %w", err)
	}
	_, err = io.WriteString(w, mpconf.Render(full))
	return err
}
