package vm

import _ "embed"

// iscsiLib is the guest's iSCSI SAN library (Scenario.ISCSI).
//
//go:embed iscsi.sh
var iscsiLib []byte

// iscsiModules are the kernel side of the iSCSI SAN: the LIO target core (with its ramdisk
// backstore) and iSCSI fabric (which needs crc32c for its digests), the open-iscsi initiator's TCP transport, and veth for the links.
var iscsiModules = []string{"veth", "crc32c_generic", "target_core_mod", "iscsi_target_mod", "iscsi_tcp"}

// iscsiTools are the user-space side: open-iscsi's daemon and admin tool, and iproute2's ip for the
// network namespaces and veth pairs (busybox ip has neither).
var iscsiTools = []string{"/sbin/iscsid", "/sbin/iscsiadm", "/bin/ip"}
