"""The client-family workload with SQLAlchemy 2.x over PyMySQL (see test/dataplane/clients.ts).

An Engine with a QueuePool of WORKLOAD_CLIENTS connections (no overflow) and autocommit
(isolation_level="AUTOCOMMIT": each INSERT commits by itself); WORKLOAD_CLIENTS threads at once,
each holding one pooled connection (`engine.connect()`) for its WORKLOAD_STATEMENTS statements:
statement s of worker w is an INSERT into workload_writes (tag, w, s) when s % 5 == 4, else a read of
workload_items by primary key ((w * statements + s) mod items) + 1, whose note must be note-<id>.
The endpoint comes from DB_HOST, DB_PORT, DB_USER, DB_PASSWORD, DB_NAME; prints one JSON line.
"""
import json
import os
import threading
import time
from importlib.metadata import version

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL


def main() -> None:
    clients = int(os.environ["WORKLOAD_CLIENTS"])
    statements = int(os.environ["WORKLOAD_STATEMENTS"])
    items = int(os.environ["WORKLOAD_ITEMS"])
    tag = os.environ["WORKLOAD_TAG"]
    url = URL.create(
        "mysql+pymysql",
        username=os.environ["DB_USER"],
        password=os.environ["DB_PASSWORD"],
        host=os.environ["DB_HOST"],
        port=int(os.environ["DB_PORT"]),
        database=os.environ["DB_NAME"],
    )
    lock = threading.Lock()
    reads = 0
    wrong_reads: list = []
    inserts: list = []
    errors: dict = {}

    def fail(e: BaseException) -> None:
        key = f"{type(e).__name__}: {e}"[:160]
        with lock:
            errors[key] = errors.get(key, 0) + 1

    read_sql = text("SELECT id, note FROM workload_items WHERE id = :id")
    insert_sql = text("INSERT INTO workload_writes (tag, worker, seq) VALUES (:tag, :worker, :seq)")
    start = threading.Barrier(clients + 1)

    def worker(w: int) -> None:
        nonlocal reads
        start.wait()
        try:
            conn = engine.connect()
        except Exception as e:  # noqa: BLE001 - every failure is counted and reported
            fail(e)
            return
        try:
            for s in range(statements):
                try:
                    if s % 5 == 4:
                        result = conn.execute(insert_sql, {"tag": tag, "worker": w, "seq": s})
                        with lock:
                            inserts.append([result.lastrowid, w, s])
                    else:
                        i = (w * statements + s) % items + 1
                        rows = conn.execute(read_sql, {"id": i}).all()
                        ok = len(rows) == 1 and rows[0].id == i and rows[0].note == f"note-{i}"
                        with lock:
                            if ok:
                                reads += 1
                            else:
                                wrong_reads.append(f"id {i}: {rows!r}")
                except Exception as e:  # noqa: BLE001
                    fail(e)
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(clients)]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    engine = create_engine(
        url,
        pool_size=clients,
        max_overflow=0,
        pool_timeout=60,
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 60},
    )
    start.wait()
    for t in threads:
        t.join()
    elapsed_ms = round((time.monotonic() - t0) * 1000)
    engine.dispose()
    print(json.dumps({
        "client": "sqlalchemy+pymysql",
        "versions": {"SQLAlchemy": version("SQLAlchemy"), "PyMySQL": version("PyMySQL")},
        "elapsedMs": elapsed_ms,
        "reads": reads,
        "wrongReads": wrong_reads,
        "inserts": inserts,
        "errors": errors,
        "errorCount": sum(errors.values()),
    }), flush=True)


if __name__ == "__main__":
    main()
