package debian

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// QMP is a client of qemu's machine protocol on a unix socket: one command at a time, events kept
// for the commands that wait for one (device_del completes with DEVICE_DELETED).
type QMP struct {
	mu     sync.Mutex
	conn   net.Conn
	r      *bufio.Reader
	events []qmpMessage
}

type qmpMessage struct {
	Return json.RawMessage `json:"return"`
	Error  *struct {
		Class string `json:"class"`
		Desc  string `json:"desc"`
	} `json:"error"`
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
	QMP   json.RawMessage `json:"QMP"`
}

// DialQMP connects to qemu's QMP socket, retrying until qemu has created it or ctx ends, and
// negotiates capabilities.
func DialQMP(ctx context.Context, path string) (*QMP, error) {
	var conn net.Conn
	for {
		var err error
		var d net.Dialer
		conn, err = d.DialContext(ctx, "unix", path)
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("qmp: dial %s: %w", path, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	q := &QMP{conn: conn, r: bufio.NewReader(conn)}
	if _, err := q.read(); err != nil { // greeting
		conn.Close()
		return nil, err
	}
	if _, err := q.Execute(ctx, "qmp_capabilities", nil); err != nil {
		conn.Close()
		return nil, err
	}
	return q, nil
}

// Close closes the connection.
func (q *QMP) Close() error { return q.conn.Close() }

func (q *QMP) read() (qmpMessage, error) {
	line, err := q.r.ReadBytes('\n')
	if err != nil {
		return qmpMessage{}, fmt.Errorf("qmp: read: %w", err)
	}
	var m qmpMessage
	if err := json.Unmarshal(line, &m); err != nil {
		return qmpMessage{}, fmt.Errorf("qmp: bad message %q: %w", line, err)
	}
	return m, nil
}

// Execute runs one command and returns its "return" value; events read meanwhile are kept.
func (q *QMP) Execute(ctx context.Context, cmd string, args any) (json.RawMessage, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	msg := map[string]any{"execute": cmd}
	if args != nil {
		msg["arguments"] = args
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		q.conn.SetDeadline(dl)
		defer q.conn.SetDeadline(time.Time{})
	}
	if _, err := q.conn.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("qmp: %s: %w", cmd, err)
	}
	for {
		m, err := q.read()
		if err != nil {
			return nil, fmt.Errorf("qmp: %s: %w", cmd, err)
		}
		switch {
		case m.Event != "":
			q.events = append(q.events, m)
		case m.Error != nil:
			return nil, fmt.Errorf("qmp: %s: %s: %s", cmd, m.Error.Class, m.Error.Desc)
		default:
			return m.Return, nil
		}
	}
}

// waitEvent waits for an event named name whose data satisfies match, among those already read
// and those to come.
func (q *QMP) waitEvent(ctx context.Context, name string, match func(json.RawMessage) bool) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, e := range q.events {
		if e.Event == name && match(e.Data) {
			q.events = append(q.events[:i], q.events[i+1:]...)
			return nil
		}
	}
	if dl, ok := ctx.Deadline(); ok {
		q.conn.SetDeadline(dl)
		defer q.conn.SetDeadline(time.Time{})
	}
	for {
		m, err := q.read()
		if err != nil {
			return fmt.Errorf("qmp: waiting for %s: %w", name, err)
		}
		if m.Event == name && match(m.Data) {
			return nil
		}
		if m.Event != "" {
			q.events = append(q.events, m)
		}
	}
}

// DeviceDel unplugs a device and waits until the guest has let it go (DEVICE_DELETED), which for a
// scsi-hd means the guest's SCSI layer removed the disk.
func (q *QMP) DeviceDel(ctx context.Context, id string) error {
	if _, err := q.Execute(ctx, "device_del", map[string]any{"id": id}); err != nil {
		return err
	}
	err := q.waitEvent(ctx, "DEVICE_DELETED", func(d json.RawMessage) bool {
		var v struct {
			Device string `json:"device"`
		}
		return json.Unmarshal(d, &v) == nil && v.Device == id
	})
	if err != nil {
		return fmt.Errorf("device_del %s: %w", id, err)
	}
	return nil
}

// DeviceAdd plugs a device described by its qdev properties ("driver", "id", ...).
func (q *QMP) DeviceAdd(ctx context.Context, props map[string]any) error {
	if props["driver"] == nil || props["id"] == nil {
		return errors.New("qmp: device_add needs driver and id")
	}
	_, err := q.Execute(ctx, "device_add", props)
	return err
}
