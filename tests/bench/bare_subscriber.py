"""The baseline subscriber: paho only, decoding each pass (msgspec into contract.Pass).

It connects like the lap service (MQTT v5, fixed client id, ``clean_start=False`` with a
session expiry, QoS 1 on ``{root}/lane/+/pass``), drains what the broker queued for its
session and stops after ``--count`` passes. It stores nothing. With ``--manual-ack`` it
acknowledges each message itself right after decoding it (paho ``manual_ack``); without,
paho acknowledges when the callback returns. With ``--echo`` it also publishes one message
per pass at the lap events' QoS (as the lap service publishes a lap event per pass), to
``{root}/bench/echo``, which nobody subscribes to.

Prints one JSON line: CLOCK_MONOTONIC ns of connection and of the last pass (with
``--echo``: of the last echo sent), and counts.
"""

from __future__ import annotations

import argparse
import json
import threading
import time

import msgspec
from paho.mqtt.client import CallbackAPIVersion, Client
from paho.mqtt.enums import MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from pitwall import contract


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--manual-ack", action="store_true")
    parser.add_argument("--echo", action="store_true")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()

    result = {"connected_ns": None, "last_ns": None, "received": 0, "echoed": 0, "invalid": 0,
              "session_present": None}
    done = threading.Event()
    echo_topic = f"{args.root}/bench/echo"
    client = Client(CallbackAPIVersion.VERSION2, client_id=args.client_id,
                    protocol=MQTTProtocolVersion.MQTTv5, manual_ack=args.manual_ack)

    def on_connect(client, userdata, flags, reason_code, properties):
        result["connected_ns"] = time.monotonic_ns()
        result["session_present"] = flags.session_present
        client.subscribe(f"{args.root}/lane/+/pass", qos=contract.QOS)

    def on_message(client, userdata, msg):
        try:
            p = contract.decode_pass(msg.payload)
            if args.echo:
                client.publish(echo_topic, contract.encode(p), qos=contract.EVENT_QOS)
        except (msgspec.DecodeError, msgspec.ValidationError):
            result["invalid"] += 1
        if args.manual_ack:
            client.ack(msg.mid, msg.qos)
        result["received"] += 1
        if result["received"] == args.count and not args.echo:
            result["last_ns"] = time.monotonic_ns()
            done.set()

    def on_publish(client, userdata, mid, reason_code, properties):
        result["echoed"] += 1
        if result["echoed"] == args.count:  # the last echo is out
            result["last_ns"] = time.monotonic_ns()
            done.set()

    client.on_connect = on_connect
    client.on_message = on_message
    client.on_publish = on_publish
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    client.connect("127.0.0.1", args.port, clean_start=False, properties=props)
    client.loop_start()
    done.wait(args.timeout)
    time.sleep(0.05)  # let the last acknowledgements go out
    client.disconnect()
    client.loop_stop()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
