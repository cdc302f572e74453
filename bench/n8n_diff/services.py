"""The real servers the corpus's database and queue workflows talk to, on 127.0.0.1:
PostgreSQL and MariaDB (a database made for the run, with the rows the queries read),
Redis (db 8, its diff: keys emptied before every call), RabbitMQ and Mosquitto (a
subscriber collects what each call published), and an S3-compatible server (moto's, on a
free port, started and stopped here). Both systems get the same credentials.

``observe(name)`` answers what a call left behind (messages, the object written) and
resets it, so each side's answer is compared together with its effect.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import uuid
from typing import Any

from corpus_nodes import DIFF_DB, S3_BUCKET

ROWS = [(1, "Ann", 3), (2, "Zoë", 1), (3, "Cy", 7), (4, "Di", 2)]
REDIS_DB = 8
AMQP_QUEUE = "diff-queue"
MQTT_TOPIC = "diff/topic"


class Services:
    """Prepares the servers, holds the subscribers, and stops what it started."""

    def __init__(self) -> None:
        self.mqtt_messages: queue.Queue[str] = queue.Queue()
        self._stoppers: list[Any] = []
        self.s3_port = 0

    def start(self) -> None:
        _sql_rows()
        self._moto()
        self._mqtt()
        self._amqp_queue()

    def stop(self) -> None:
        for stop in reversed(self._stoppers):
            with contextlib.suppress(Exception):
                stop()

    # -- credentials, as each side names them --------------------------------------------
    def n8n_credentials(self) -> list[dict[str, Any]]:
        data = {
            ("DiffCredPg01", "diff postgres", "postgres"): {
                "host": "127.0.0.1",
                "database": DIFF_DB,
                "user": "postgres",
                "password": "",
                "port": 5432,
                "ssl": "disable",
            },
            ("DiffCredMy01", "diff mysql", "mySql"): {
                "host": "127.0.0.1",
                "database": DIFF_DB,
                "user": "root",
                "password": "",
                "port": 3306,
            },
            ("DiffCredRedis1", "diff redis", "redis"): {
                "host": "127.0.0.1",
                "port": 6379,
                "password": "",
                "database": REDIS_DB,
            },
            ("DiffCredAmqp1", "diff rabbitmq", "rabbitmq"): {
                "hostname": "127.0.0.1",
                "port": 5672,
                "username": "guest",
                "password": "guest",
                "vhost": "/",
            },
            ("DiffCredMqtt1", "diff mqtt", "mqtt"): {
                "protocol": "mqtt",
                "host": "127.0.0.1",
                "port": 1883,
                "username": "",
                "password": "",
                "clean": True,
                "clientId": "",
                "ssl": False,
            },
            ("DiffCredS3001", "diff s3", "s3"): {
                "endpoint": f"http://127.0.0.1:{self.s3_port}",
                "region": "us-east-1",
                "accessKeyId": "diff",
                "secretAccessKey": "diff-secret",
                "forcePathStyle": True,
                "ignoreSSLIssues": False,
            },
        }
        return [
            {"id": cid, "name": name, "type": kind, "data": fields}
            for (cid, name, kind), fields in data.items()
        ]

    def linkflow_credentials(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """n8n credential id -> (LinkFlow type, data)."""
        return {
            "DiffCredPg01": (
                "postgres",
                {
                    "host": "127.0.0.1",
                    "port": "5432",
                    "database": DIFF_DB,
                    "username": "postgres",
                    "security": "disable",
                },
            ),
            "DiffCredMy01": (
                "mysql",
                {"host": "127.0.0.1", "port": "3306", "database": DIFF_DB, "username": "root"},
            ),
            "DiffCredRedis1": (
                "redis",
                {"host": "127.0.0.1", "port": "6379", "database": str(REDIS_DB)},
            ),
            "DiffCredAmqp1": (
                "amqp",
                {"host": "127.0.0.1", "port": "5672", "username": "guest", "password": "guest"},
            ),
            "DiffCredMqtt1": ("mqtt", {"host": "127.0.0.1", "port": "1883"}),
            "DiffCredS3001": (
                "s3",
                {
                    "endpoint_url": f"http://127.0.0.1:{self.s3_port}",
                    "region": "us-east-1",
                    "access_key_id": "diff",
                    "secret_access_key": "diff-secret",
                },
            ),
        }

    # -- what a call left behind -----------------------------------------------------------
    def before_call(self, name: str) -> None:
        if name == "redis":
            import redis

            client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
            keys = list(client.scan_iter("diff:*"))
            if keys:
                client.delete(*keys)

    def observe(self, name: str) -> Any:
        if name == "rabbitmq":
            return self._amqp_drain()
        if name == "mqtt":
            return self._mqtt_drain()
        if name == "s3":
            return self._s3_drain()
        return None

    # -- the servers -------------------------------------------------------------------------
    def _moto(self) -> None:
        from moto.server import ThreadedMotoServer

        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        self._stoppers.append(server.stop)
        self.s3_port = server._server.server_port  # port 0: the one it was given
        self._s3().create_bucket(Bucket=S3_BUCKET)

    def _s3(self) -> Any:
        import boto3

        return boto3.session.Session().client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{self.s3_port}",
            region_name="us-east-1",
            aws_access_key_id="diff",
            aws_secret_access_key="diff-secret",
        )

    def _s3_drain(self) -> dict[str, str]:
        client = self._s3()
        found = {}
        for entry in client.list_objects_v2(Bucket=S3_BUCKET).get("Contents", []):
            body = client.get_object(Bucket=S3_BUCKET, Key=entry["Key"])["Body"].read()
            found[entry["Key"]] = body.decode(errors="replace")
            client.delete_object(Bucket=S3_BUCKET, Key=entry["Key"])
        return found

    def _mqtt(self) -> None:
        import paho.mqtt.client as mqtt

        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"diff-{uuid.uuid4().hex[:8]}"
        )
        ready = threading.Event()
        client.on_connect = lambda c, *_: (c.subscribe(MQTT_TOPIC, qos=1), ready.set())
        client.on_message = lambda _c, _u, message: self.mqtt_messages.put(
            message.payload.decode(errors="replace")
        )
        client.connect("127.0.0.1", 1883)
        client.loop_start()
        self._stoppers.append(client.loop_stop)
        self._stoppers.append(client.disconnect)
        if not ready.wait(10):
            raise SystemExit("no MQTT broker answers on 127.0.0.1:1883")

    def _mqtt_drain(self) -> list[str]:
        messages = []
        with contextlib.suppress(queue.Empty):
            # a publish reaches the subscriber after the answer: wait for the first one
            messages.append(self.mqtt_messages.get(timeout=5))
            while True:
                messages.append(self.mqtt_messages.get(timeout=0.5))
        return messages

    def _amqp_queue(self) -> None:
        import amqp

        with amqp.Connection("127.0.0.1:5672", userid="guest", password="guest") as connection:
            channel = connection.channel()
            channel.queue_declare(AMQP_QUEUE, durable=True, auto_delete=False)
            channel.queue_purge(AMQP_QUEUE)

    def _amqp_drain(self) -> list[str]:
        import amqp

        messages: list[str] = []
        with amqp.Connection("127.0.0.1:5672", userid="guest", password="guest") as connection:
            channel = connection.channel()
            for _ in range(50):
                message = channel.basic_get(AMQP_QUEUE, no_ack=True)
                if message is None:
                    break
                body = message.body
                messages.append(body.decode() if isinstance(body, bytes) else str(body))
        return messages


def _sql_rows() -> None:
    """A database of the same name and rows on PostgreSQL and on MariaDB."""
    import psycopg
    import pymysql

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as pg:
        pg.execute(f'DROP DATABASE IF EXISTS "{DIFF_DB}" WITH (FORCE)')
        pg.execute(f'CREATE DATABASE "{DIFF_DB}"')
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{DIFF_DB}") as pg:
        pg.execute("CREATE TABLE diff_rows (id integer PRIMARY KEY, name text, score integer)")
        pg.cursor().executemany("INSERT INTO diff_rows VALUES (%s, %s, %s)", ROWS)
    my = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="")
    with my.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{DIFF_DB}`")
        cursor.execute(f"CREATE DATABASE `{DIFF_DB}` CHARACTER SET utf8mb4")
        cursor.execute(
            f"CREATE TABLE `{DIFF_DB}`.diff_rows (id int PRIMARY KEY, name text, score int)"
        )
        cursor.executemany(f"INSERT INTO `{DIFF_DB}`.diff_rows VALUES (%s, %s, %s)", ROWS)
    my.commit()
    my.close()
