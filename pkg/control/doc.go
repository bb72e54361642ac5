// Package control is mpathd's local control socket: the server the daemon
// runs and the client mpathctl uses.
//
// # Transport
//
// A unix stream socket, by default /run/mpathd/mpathd.sock. Listen creates
// the directory 0755 and the socket 0666, so every local user can connect;
// what a user may do is decided per request from the peer's uid (SO_PEERCRED):
// root may do everything, anyone else only the read operations (see
// api.Privileged). A non-root mutating request is answered with a
// "permission" error that says root is needed.
//
// # Framing and protocol
//
// Newline-delimited JSON: each request is one line holding an api.Request,
// each reply one line holding an api.Response with the same id. Several
// requests may share a connection, answered in order. Every request carries
// "v": api.ProtocolVersion; another version is refused with an "invalid"
// error, so a client and daemon of different protocol versions fail clearly.
//
//	→ {"v":1,"id":1,"op":"topology"}
//	← {"v":1,"id":1,"result":{"maps":[…]}}
//	→ {"v":1,"id":2,"op":"fail_path","args":{"path":"sdc"}}
//	← {"v":1,"id":2,"error":{"code":"permission","message":"fail_path needs root …"}}
//
// A request line may be at most MaxRequest bytes. A longer one is answered
// with an "invalid" error and the connection is closed (there is no safe
// place to resume). A line that is not valid JSON, or names an unknown
// operation, gets an "invalid" error and the connection stays usable.
//
// The "events" operation turns the connection into a stream: the first
// response acknowledges the subscription (empty result), and every later line
// is a Response whose "event" field holds one api.Event, until the client
// closes the connection. A client too slow to read loses events (it is told
// with an events_lost event) and, if a write stalls for longer than the write
// timeout, is disconnected; the daemon never waits for it.
//
// # Robustness
//
// Every connection has deadlines: a client idle between requests for
// IdleTimeout, or slower than WriteTimeout to accept a reply, is dropped. At
// most MaxConns connections of non-root users are served at once; the next
// ones get a "busy" error. Root is always served, so other users cannot lock
// the administrator out. A panic while serving one request is answered as an "internal" error
// and logged; the daemon keeps running.
package control
