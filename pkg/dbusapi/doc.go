// Package dbusapi exports the daemon's state on the D-Bus system bus, for
// management tools that would rather not parse text.
//
// # Names
//
//	bus name            org.mpathd.Daemon1
//	manager object      /org/mpathd/Daemon1
//	  interfaces        org.mpathd.Daemon1.Manager, org.freedesktop.DBus.ObjectManager,
//	                    org.freedesktop.DBus.Properties, org.freedesktop.DBus.Introspectable
//	one object per map  /org/mpathd/Daemon1/map/<name>   org.mpathd.Daemon1.Map
//	one object per path /org/mpathd/Daemon1/path/<dev>   org.mpathd.Daemon1.Path
//
// Object path elements are escaped as systemd does: ASCII letters and digits
// stay, every other byte becomes _XX in lower-case hex ("data-1" →
// "data_2d1"). The Map and Path properties carry the same facts as
// `mpathctl show topology --json`.
//
// The Manager interface has read methods (ListMaps, ListPaths, GetStatus,
// GetTopology) and the actions of mpathctl (Reconfigure, FailPath,
// ReinstatePath, SwitchGroup, ResizeMap, FlushMap, AddPath, DelPath,
// Rescan). The shipped policy (configs/org.mpathd.Daemon1.conf) lets only
// root call the actions; the daemon checks the caller's uid as well.
//
// # Signals
//
// Every property change is announced with
// org.freedesktop.DBus.Properties.PropertiesChanged on the object (except the
// volatile load figures, read live from the polling core on every Get: Weight,
// IOPS, ReadBytesPerSec, WriteBytesPerSec, AvgRequestBytes, InFlight,
// ServiceTimeMs, Utilisation), objects coming and going with the ObjectManager's
// InterfacesAdded and InterfacesRemoved, and the manager emits specific
// signals: PathStateChanged, GroupSwitched, QueueingChanged, MapAdded,
// MapRemoved, and Event for every daemon event.
//
// # Availability
//
// D-Bus is optional: without a system bus (an initramfs, a minimal host)
// the daemon runs fully, logs once, and connects when the bus socket
// appears; a lost bus is reconnected the same way.
package dbusapi
