// Package mpathcompat speaks multipathd's control protocol, so that the
// tools written for multipathd (its own `multipathd show …` client, os-brick,
// Trident, gobrick, vdsm, monitoring scripts) work against mpathd unchanged.
//
// It is a translation layer only: every command maps onto the daemon's
// api.Service, reads answer from the same snapshots `mpathctl show` uses,
// and no decision is taken here.
//
// # Transport
//
// Unix stream sockets: the abstract @/org/kernel/linux/storage/multipathd
// and /run/multipathd.socket, or the one named by MULTIPATH_SOCKET_NAME;
// sockets passed by systemd (LISTEN_FDS) are used when their address is one
// of these. Each message is a native-endian size_t length, then that many
// bytes of text ending in NUL (WriteFrame, ReadFrame). A connection carries
// any number of command/reply pairs. Client is the client side.
//
// Peers are identified with SO_PEERCRED: a non-root peer may run only the
// list/show commands, as with multipathd.
//
// # Commands and replies
//
// ParseCommand reads multipathd's grammar: keywords shortened to any unique
// prefix, its synonyms (list/show, del/remove, maps/multipaths, map/multipath,
// switch/switchgroup), double-quoted arguments. Server.Execute answers with
// the command's output, or exactly "ok\n", "fail\n" (the reason is logged:
// multipathd's client exits 1 only on that exact reply), "timeout\n" (an
// action still running after ActionTimeout; it goes on), "permission deny:
// need to be root\n", or a reason and the command reference for a command it
// does not know. The renderers (RenderTopology, Paths, Maps, MapsJSON, Status,
// Daemon, Wildcards) are exported for the multipath and multipathd commands.
package mpathcompat
