package broker

import (
	"bufio"
	"strings"

	"github.com/midge-mqtt/midge/topic"
)

// A listener's mount point (ListenerOptions.MountPoint, Mosquitto's
// mount_point) confines its clients to the part of the topic tree under a
// prefix. Inside the broker every topic and filter is whole: the prefix is
// added where a client's topic or filter comes in (handlePublish,
// publishWill, handleSubscribe, handleUnsubscribe) and taken off where a
// message goes out (writeMounted), so routing, retained messages, shared
// subscriptions and access control know nothing of it. A connection reads
// its mount point through its listener; an unmounted one pays a length
// check per delivery.

// maxTopicLength is the longest topic name the wire can carry.
const maxTopicLength = 65535

// mountPoint returns the prefix of the connection's listener; empty for
// none and for connections handed to ServeConn.
func (c *conn) mountPoint() string {
	if ls := c.listener; ls != nil {
		return ls.opts.MountPoint
	}
	return ""
}

// mountFilter puts mount in front of a client's (valid) filter; a shared
// subscription $share/GROUP/FILTER keeps its group and mounts its filter.
func mountFilter(mount, filter string) string {
	if mount == "" {
		return filter
	}
	if group, inner, shared := topic.ParseShared(filter); shared {
		return "$share/" + group + "/" + mount + inner
	}
	return mount + filter
}

// unmount returns the topic a client under mount sees for name. It reports
// false when name is not below the mount point, as a message matched by
// `PREFIX/#` on its parent level (`PREFIX` itself) is not: such a message
// has no name the client could be given, and Mosquitto drops it too.
func unmount(name, mount string) (string, bool) {
	if len(name) <= len(mount) || !strings.HasPrefix(name, mount) {
		return "", false
	}
	return name[len(mount):], true
}

// carries reports whether a message can be delivered to the connection:
// always, unless the connection is mounted and the topic not below its
// mount point (a session resumed through a listener with another mount
// point, or the parent level of a `#` filter).
func (c *conn) carries(m *Message) bool {
	mount := c.mountPoint()
	if mount == "" {
		return true
	}
	_, ok := unmount(m.Topic, mount)
	return ok
}

// writeMounted writes a PUBLISH to a mounted client: its own encoding, with
// the topic stripped of the mount point (and, at MQTT 5, the delivery's own
// properties). A message with no name under the mount point writes nothing.
func writeMounted(w *bufio.Writer, it *outItem, version byte, mount string, aliases *outAliases, scratch *[]byte, now int64) (int, error) {
	name, ok := unmount(it.msg.Topic, mount)
	if !ok {
		return 0, nil
	}
	return writeOwn(w, it, name, version, aliases, scratch, now)
}
