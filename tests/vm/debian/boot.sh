#!/bin/sh
# Run by the image's /usr/local/sbin/mpathd-vm-init before systemd starts, from the payload disk:
# put the project's files into the system, as a package would have installed them.
p=$(dirname "$0")
cp -a "$p/root/." /
