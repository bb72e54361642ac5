package debian

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeQEMU serves QMP on a unix socket: it greets, accepts qmp_capabilities, answers device_del
// with an unrelated event, the return, then DEVICE_DELETED, and refuses a device_add of an id that
// exists. It records the commands it got.
func fakeQEMU(t *testing.T) (string, chan map[string]any) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "qmp.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	got := make(chan map[string]any, 16)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		w := bufio.NewWriter(c)
		send := func(s string) { w.WriteString(s + "\r\n"); w.Flush() }
		send(`{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}}, "capabilities": []}}`)
		sc := bufio.NewScanner(c)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				send(`{"error": {"class": "GenericError", "desc": "bad json"}}`)
				continue
			}
			got <- m
			args, _ := m["arguments"].(map[string]any)
			switch m["execute"] {
			case "qmp_capabilities":
				send(`{"return": {}}`)
			case "device_del":
				send(`{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "RTC_CHANGE", "data": {"offset": 0}}`)
				send(`{"return": {}}`)
				send(`{"timestamp": {"seconds": 1, "microseconds": 3}, "event": "DEVICE_DELETED", "data": {"path": "/machine/peripheral/x"}}`)
				send(`{"timestamp": {"seconds": 1, "microseconds": 4}, "event": "DEVICE_DELETED", "data": {"device": "` + args["id"].(string) + `", "path": "/machine/peripheral/` + args["id"].(string) + `"}}`)
			case "device_add":
				if args["id"] == "root0" {
					send(`{"error": {"class": "GenericError", "desc": "Duplicate device ID 'root0'"}}`)
				} else {
					send(`{"return": {}}`)
				}
			default:
				send(`{"error": {"class": "CommandNotFound", "desc": "The command ` + m["execute"].(string) + ` has not been found"}}`)
			}
		}
	}()
	return sock, got
}

func TestQMP(t *testing.T) {
	sock, got := fakeQEMU(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	q, err := DialQMP(ctx, sock)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if m := <-got; m["execute"] != "qmp_capabilities" {
		t.Fatalf("first command %v, want qmp_capabilities", m)
	}
	if err := q.DeviceDel(ctx, "root1"); err != nil {
		t.Fatalf("DeviceDel: %v", err)
	}
	if m := <-got; m["execute"] != "device_del" || m["arguments"].(map[string]any)["id"] != "root1" {
		t.Errorf("sent %v", m)
	}
	if err := q.DeviceAdd(ctx, RootPath(1)); err != nil {
		t.Fatalf("DeviceAdd: %v", err)
	}
	m := <-got
	args := m["arguments"].(map[string]any)
	want := map[string]any{"driver": "scsi-hd", "id": "root1", "bus": "scsi1.0", "drive": "root",
		"wwn": float64(rootWWN), "serial": rootSerial, "share-rw": true}
	for k, v := range want {
		if args[k] != v {
			t.Errorf("device_add %s = %v, want %v", k, args[k], v)
		}
	}
	err = q.DeviceAdd(ctx, RootPath(0))
	if err == nil || !strings.Contains(err.Error(), "Duplicate device ID") {
		t.Errorf("DeviceAdd of a present device: %v, want qemu's error", err)
	}
	<-got
	if _, err := q.Execute(ctx, "nonsense", nil); err == nil || !strings.Contains(err.Error(), "CommandNotFound") {
		t.Errorf("unknown command: %v", err)
	}
	if err := q.DeviceAdd(ctx, map[string]any{"driver": "scsi-hd"}); err == nil {
		t.Errorf("device_add without id accepted")
	}
}

// TestDeviceArg: the -device string for a root path says what QMP's device_add does.
func TestDeviceArg(t *testing.T) {
	for i, want := range []string{
		"scsi-hd,id=root0,bus=scsi0.0,drive=root,wwn=0x5000c50015ea71ac,serial=MPATHDROOT0001,share-rw=on,channel=0,scsi-id=0,lun=0",
		"scsi-hd,id=root1,bus=scsi1.0,drive=root,wwn=0x5000c50015ea71ac,serial=MPATHDROOT0001,share-rw=on,channel=0,scsi-id=0,lun=0",
	} {
		if got := deviceArg(RootPath(i)); got != want {
			t.Errorf("deviceArg(RootPath(%d)) = %q, want %q", i, got, want)
		}
	}
}
