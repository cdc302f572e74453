"""What listening triggers cost a beat process in memory: the resident size before and
after importing the broker drivers, and after N listeners per broker (AMQP, NATS, MQTT)
are connected and idle. Engine only (no database); the local RabbitMQ, NATS and
Mosquitto. Not part of the test suite.

    .venv/bin/python bench/listener_memory.py --per-broker 10

Queues, subjects and topics are named b16b-mem-*; the queues are deleted at the end.
"""

import argparse
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def rss_mib() -> float:
    pages = int(Path(f"/proc/{os.getpid()}/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-broker", type=int, default=10)
    n = parser.parse_args().per_broker
    base = rss_mib()
    import amqp

    from linkflow.engine.listeners import (  # noqa: F401
        Session,
        Target,
        amqp_listener,
        listen_forever,
        listener_for,
        mqtt_listener,
        nats_listener,
    )
    from linkflow.engine.net import AddressPolicy

    imported = rss_mib()
    policy = AddressPolicy(allow_private=True)
    specs = [
        ("trigger.amqp", 5672, "queue", "b16b-mem-{}"),
        ("trigger.nats", 4222, "subject", "b16b.mem.{}"),
        ("trigger.mqtt", 1883, "topic", "b16b/mem/{}"),
    ]
    sessions = []
    for i in range(n):
        for node_type, port, name, pattern in specs:
            session = Session(deliver=lambda message: None)
            target = Target(
                fields={"host": "127.0.0.1", "port": port},
                params={name: pattern.format(i)},
                policy=policy,
                name=f"mem:{node_type}:{i}",
            )
            listener = listener_for(node_type, target)
            threading.Thread(target=listen_forever, args=(listener, session), daemon=True).start()
            sessions.append(session)
    while any(s.connections == 0 for s in sessions):
        time.sleep(0.1)
    time.sleep(2)  # settled: subscriptions made, first heartbeats exchanged
    running = rss_mib()
    for session in sessions:
        session.stop.set()
    print(f"process before the drivers: {base:.1f} MiB")
    print(f"drivers imported:           {imported:.1f} MiB (+{imported - base:.1f})")
    print(f"{len(sessions)} idle listeners:        {running:.1f} MiB (+{running - imported:.1f})")
    print(f"per listener:               {(running - imported) / len(sessions) * 1024:.0f} KiB")
    time.sleep(2)
    with amqp.Connection(host="127.0.0.1:5672") as connection:
        channel = connection.channel()
        for i in range(n):
            channel.queue_delete(f"b16b-mem-{i}")


if __name__ == "__main__":
    main()
