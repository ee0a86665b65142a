#!/usr/bin/python3
"""Checks an MQTT broker with Eclipse Paho's Python client, written the way
the Paho tutorial writes a client: on_connect subscribes, on_message handles
each message, loop_start runs the network loop in a thread.

Run with Debian's interpreter, which has python3-paho-mqtt:

    /usr/bin/python3 interop/paho_client.py --host 127.0.0.1 --port 1883

Each check prints "ok - NAME" or "FAIL - NAME: WHY"; interop/run.sh counts
them. The exit status is 1 when any check failed.
"""

import argparse
import queue
import sys
import threading
import time
import uuid

try:
    import paho.mqtt.client as mqtt
except ImportError:
    sys.exit("FAIL - import paho.mqtt: install python3-paho-mqtt and run with /usr/bin/python3")

TIMEOUT = 5.0  # seconds for every wait on the broker

PROTOCOLS = [("MQTTv311", mqtt.MQTTv311), ("MQTTv31", mqtt.MQTTv31)]


class CheckFailed(Exception):
    """A check found the broker doing something other than expected."""


def unique(prefix):
    """Return prefix with a random suffix; client ids stay within the 23
    characters MQTT 3.1 allows."""
    return prefix + uuid.uuid4().hex[:12]


class Client:
    """A Paho client in the tutorial's shape. It subscribes to its filters in
    on_connect, so the subscriptions come back after every reconnection, and
    puts every message on a queue that the checks read with a timeout."""

    def __init__(self, host, port, protocol, filters=(), client_id=None, clean_session=True):
        self.host, self.port = host, port
        self.filters = list(filters)  # (filter, qos) pairs
        self.messages = queue.Queue()
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.session_present = None
        self.connect_rc = None
        self.pending = set()  # message ids of SUBSCRIBEs not yet acknowledged
        self.lock = threading.Lock()
        client_id = client_id if client_id is not None else unique("py-")
        if hasattr(mqtt, "CallbackAPIVersion"):  # paho-mqtt 2.x
            self.mqttc = mqtt.Client(mqtt.CallbackAPIVersion.VERSION1, client_id=client_id,
                                     clean_session=clean_session, protocol=protocol)
        else:
            self.mqttc = mqtt.Client(client_id=client_id, clean_session=clean_session,
                                     protocol=protocol)
        self.mqttc.on_connect = self.on_connect
        self.mqttc.on_subscribe = self.on_subscribe
        self.mqttc.on_message = self.on_message

    def on_connect(self, client, userdata, flags, rc):
        self.connect_rc = rc
        self.session_present = bool(flags.get("session present"))
        if rc == 0 and self.filters:
            with self.lock:
                result, mid = client.subscribe(self.filters)
                self.pending.add(mid)
        elif rc == 0:
            self.subscribed.set()
        self.connected.set()

    def on_subscribe(self, client, userdata, mid, granted_qos):
        with self.lock:
            self.pending.discard(mid)
            if not self.pending:
                self.subscribed.set()

    def on_message(self, client, userdata, msg):
        self.messages.put(msg)

    def start(self):
        """Connect, start the network loop, and wait for CONNACK and SUBACK."""
        self.mqttc.connect(self.host, self.port, keepalive=60)
        self.mqttc.loop_start()
        if not self.connected.wait(TIMEOUT):
            raise CheckFailed("no CONNACK within %ss" % TIMEOUT)
        if self.connect_rc != 0:
            raise CheckFailed("connection refused: %s" % mqtt.connack_string(self.connect_rc))
        if not self.subscribed.wait(TIMEOUT):
            raise CheckFailed("no SUBACK within %ss for %s" % (TIMEOUT, self.filters))
        return self

    def stop(self):
        self.mqttc.disconnect()
        self.mqttc.loop_stop()

    def publish(self, topic, payload, qos=0, retain=False):
        """Publish and wait until the QoS flow is complete."""
        info = self.mqttc.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(TIMEOUT)
        if not info.is_published():
            raise CheckFailed("publish to %s at QoS %d not acknowledged within %ss" % (topic, qos, TIMEOUT))

    def next(self, what):
        try:
            return self.messages.get(timeout=TIMEOUT)
        except queue.Empty:
            raise CheckFailed("no message within %ss: waiting for %s" % (TIMEOUT, what)) from None

    def until(self, topic, payload):
        """Return the messages that arrive before the sentinel (topic, payload)."""
        before = []
        while True:
            msg = self.next("sentinel %r on %s" % (payload, topic))
            if msg.topic == topic and msg.payload == payload.encode():
                return before
            before.append(msg)


def describe(msg):
    return "{topic %s payload %r qos %d retain %d}" % (msg.topic, msg.payload, msg.qos, msg.retain)


def expect(msg, topic, payload, qos, retain):
    if (msg.topic, msg.payload, msg.qos, bool(msg.retain)) != (topic, payload.encode(), qos, retain):
        raise CheckFailed("got %s, want {topic %s payload %r qos %d retain %d}"
                          % (describe(msg), topic, payload, qos, retain))


def check_qos(args, protocol, base):
    """Every publish QoS to every subscription QoS arrives at the minimum."""
    filters = [("%s/pub%d/sub%d" % (base, p, s), s) for p in range(3) for s in range(3)]
    sub = Client(args.host, args.port, protocol, filters).start()
    pub = Client(args.host, args.port, protocol).start()
    try:
        for p in range(3):
            for s in range(3):
                topic = "%s/pub%d/sub%d" % (base, p, s)
                pub.publish(topic, "q%d" % p, qos=p)
                expect(sub.next(topic), topic, "q%d" % p, min(p, s), False)
    finally:
        sub.stop()
        pub.stop()


def check_wildcards(args, protocol, base):
    """'+' matches one level, '#' the rest and the parent."""
    plus = Client(args.host, args.port, protocol, [(base + "/+/temperature", 1)]).start()
    hash_ = Client(args.host, args.port, protocol, [(base + "/#", 1)]).start()
    pub = Client(args.host, args.port, protocol).start()
    try:
        names = [base, base + "/kitchen/temperature", base + "/kitchen/humidity",
                 base + "/a/b/temperature", base + "/garden/temperature"]
        for name in names:
            pub.publish(name, name, qos=1)
        pub.publish(base + "/end/temperature", "end", qos=1)
        got_plus = [m.topic for m in plus.until(base + "/end/temperature", "end")]
        got_hash = [m.topic for m in hash_.until(base + "/end/temperature", "end")]
        want_plus = [base + "/kitchen/temperature", base + "/garden/temperature"]
        if got_plus != want_plus:
            raise CheckFailed("%s/+/temperature got %s, want %s" % (base, got_plus, want_plus))
        if got_hash != names:
            raise CheckFailed("%s/# got %s, want %s" % (base, got_hash, names))
    finally:
        for c in (plus, hash_, pub):
            c.stop()


def check_retained(args, protocol, base):
    """Last retained wins with RETAIN set for new subscribers, RETAIN clear for
    existing ones, and an empty retained payload clears it."""
    topic = base + "/state"
    existing = Client(args.host, args.port, protocol, [(topic, 1)]).start()
    pub = Client(args.host, args.port, protocol).start()
    try:
        for payload in ("one", "two"):
            pub.publish(topic, payload, qos=1, retain=True)
            expect(existing.next(payload), topic, payload, 1, False)
        late = Client(args.host, args.port, protocol, [(topic, 1)]).start()
        try:
            late.publish(topic, "sentinel", qos=1)
            before = late.until(topic, "sentinel")
            if len(before) != 1:
                raise CheckFailed("new subscriber got %s, want the one retained message"
                                  % [describe(m) for m in before])
            expect(before[0], topic, "two", 1, True)
        finally:
            late.stop()
        pub.publish(topic, "", qos=1, retain=True)
        cleared = Client(args.host, args.port, protocol, [(topic, 1)]).start()
        try:
            cleared.publish(topic, "sentinel", qos=1)
            before = cleared.until(topic, "sentinel")
            if before:
                raise CheckFailed("retained message not cleared: %s" % [describe(m) for m in before])
        finally:
            cleared.stop()
    finally:
        existing.stop()
        pub.stop()


def check_persistent_session(args, protocol, base):
    """With clean session off, QoS 1 messages are queued while the client is
    away and delivered when it comes back, with session present set (3.1.1)."""
    client_id = unique("py-")
    topic = base + "/queued"
    first = Client(args.host, args.port, protocol, [(topic, 1)], client_id, clean_session=False).start()
    first.stop()
    pub = Client(args.host, args.port, protocol).start()
    try:
        for payload in ("first", "second", "third"):
            pub.publish(topic, payload, qos=1)
    finally:
        pub.stop()
    back = Client(args.host, args.port, protocol, [(topic, 1)], client_id, clean_session=False).start()
    try:
        if protocol == mqtt.MQTTv311 and not back.session_present:
            raise CheckFailed("session present not set on reconnection")
        for payload in ("first", "second", "third"):
            expect(back.next("queued " + payload), topic, payload, 1, False)
    finally:
        back.stop()
        # Leave no session behind on a shared broker.
        Client(args.host, args.port, protocol, client_id=client_id).start().stop()


def check_v5_properties(args, base):
    """MQTT 5: user properties (order and duplicates kept), content type,
    response topic and correlation data reach an MQTT 5 subscriber as
    published."""
    from paho.mqtt.properties import Properties
    from paho.mqtt.packettypes import PacketTypes

    topic = base + "/props"
    got = queue.Queue()
    acks = queue.Queue()
    connected = threading.Event()
    subscribed = threading.Event()

    def make(client_id):
        if hasattr(mqtt, "CallbackAPIVersion"):  # paho-mqtt 2.x
            return mqtt.Client(mqtt.CallbackAPIVersion.VERSION1, client_id=client_id, protocol=mqtt.MQTTv5)
        return mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv5)

    sub = make(unique("py5-"))
    sub.on_connect = lambda c, u, flags, rc, props=None: connected.set()
    sub.on_subscribe = lambda c, u, mid, codes, props=None: subscribed.set()
    sub.on_message = lambda c, u, msg: got.put(msg)
    sub.connect(args.host, args.port, keepalive=60, clean_start=True)
    sub.loop_start()
    pub = make(unique("py5-"))
    pub.on_publish = lambda c, u, mid: acks.put(mid)
    try:
        if not connected.wait(TIMEOUT):
            raise CheckFailed("no CONNACK")
        sub.subscribe(topic, qos=1)
        if not subscribed.wait(TIMEOUT):
            raise CheckFailed("no SUBACK")
        pub.connect(args.host, args.port, keepalive=60, clean_start=True)
        pub.loop_start()
        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = [("colour", "blue"), ("colour", "red"), ("size", "1")]
        props.ContentType = "text/plain"
        props.ResponseTopic = topic + "/reply"
        props.CorrelationData = b"\x01\x02"
        info = pub.publish(topic, b"hello", qos=1, properties=props)
        info.wait_for_publish(TIMEOUT)
        try:
            msg = got.get(timeout=TIMEOUT)
        except queue.Empty:
            raise CheckFailed("no message") from None
        p = msg.properties
        user = list(getattr(p, "UserProperty", []))
        if user != [("colour", "blue"), ("colour", "red"), ("size", "1")]:
            raise CheckFailed("user properties %r" % user)
        if (getattr(p, "ContentType", None), getattr(p, "ResponseTopic", None), getattr(p, "CorrelationData", None)) != \
                ("text/plain", topic + "/reply", b"\x01\x02"):
            raise CheckFailed("properties %r" % p)
    finally:
        sub.disconnect()
        sub.loop_stop()
        pub.disconnect()
        pub.loop_stop()


CHECKS = [
    ("qos", check_qos),
    ("wildcards", check_wildcards),
    ("retained", check_retained),
    ("persistent-session", check_persistent_session),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    args = parser.parse_args()
    failed = 0
    run = uuid.uuid4().hex[:8]
    for protocol_name, protocol in PROTOCOLS:
        for name, check in CHECKS:
            label = "python paho %s %s" % (protocol_name, name)
            base = "midge-interop/python/%s/%s/%s" % (run, protocol_name, name)
            started = time.monotonic()
            try:
                check(args, protocol, base)
            except Exception as err:  # a broken check is a failed check, not a crash
                failed += 1
                print("FAIL - %s: %s: %s" % (label, type(err).__name__, err), flush=True)
            else:
                print("ok - %s (%.2fs)" % (label, time.monotonic() - started), flush=True)
    label = "python paho MQTTv5 properties"
    started = time.monotonic()
    try:
        check_v5_properties(args, "midge-interop/python/%s/MQTTv5" % run)
    except Exception as err:
        failed += 1
        print("FAIL - %s: %s: %s" % (label, type(err).__name__, err), flush=True)
    else:
        print("ok - %s (%.2fs)" % (label, time.monotonic() - started), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
