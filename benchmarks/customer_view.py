"""The single customer view at scale: views and searches from a warm process, the web app under load.

    .venv/bin/python benchmarks/customer_view.py --n-customers 100000
    .venv/bin/python benchmarks/customer_view.py --n-customers 100000 --seconds 10 --clients 20

The store (cached in ``benchmarks/_data/customer_view_<n>_<seed>/``) holds the nightly
benchmark's data: customers and transactions from the synthetic generator's Parquet
path (about 21.6 transactions per customer), tickets for one customer in five, NPS and
CSAT answers for one in three, and one full scoring run. Then, all on this machine:

1. ``customer_view`` for random customers from a warm process: each call opening the
   file itself (a plain read-only ``Store``), and inside ``store.session()`` (the file
   held open, as the web app holds it while requests come);
2. ``find_customers`` by e-mail (upper case, with spaces), by phone (re-formatted:
   ``00`` prefix, digits in threes), by name (first and last name, lower case) and by id;
3. a bounded load test on loopback: ``crm-analytics serve`` (``--workers``) in its own
   process and ``--clients`` threads sending requests back to back, or ``--think``
   seconds apart, for ``--seconds`` (60 % JSON views, 20 % card pages, 20 % searches),
   then the same while a scoring run (all steps but churn, ``force``) computes and
   commits in another process: latencies, failed requests, the first request after
   the commit, and how long after the run the app showed it (its custom segments are
   computed in the background meanwhile).

Targets (issue "Single customer view", for 1,000,000 customers): a view <= 50 ms median
and <= 150 ms p95 warm; a search by e-mail or phone <= 50 ms median; 20 clients for
30 s with p95 <= 300 ms and no failed request, also while a run commits.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import prepare_store  # noqa: E402
from nightly_scale import PARAMS, add_service_tables  # noqa: E402

#: The scoring run of the load test: everything but churn (a quick run that still commits
#: every score column it computes), recomputed even though the inputs did not change.
LOAD_RUN_STEPS = ["inputs", "attributes", "clv", "satisfaction", "segments"]


def _stats(seconds: list[float]) -> str:
    ms = np.asarray(seconds) * 1000
    return (f"median {np.median(ms):6.1f} ms  p95 {np.percentile(ms, 95):6.1f} ms  "
            f"max {ms.max():7.1f} ms  (n={len(ms)})")


def _timed(function, items) -> list[float]:
    out = []
    for item in items:
        t = time.perf_counter()
        function(item)
        out.append(time.perf_counter() - t)
    return out


def ensure_run(db: Path, folder: Path) -> str:
    import crm_analytics as crm
    from crm_analytics.errors import InputError

    try:
        return str(crm.latest_scores(db).attrs["run_id"])
    except InputError:
        t = time.perf_counter()
        result = crm.run_batch(db, config={"model_dir": str(folder / "models")}, progress=False)
        print(f"scored the store in {time.perf_counter() - t:.0f} s (run {result.run_id})", flush=True)
        return result.run_id


#: A custom segment in the store, so that views pay for custom-segment membership too.
BENCH_SEGMENT = ("bench EMEA top CLV", "region = 'EMEA' and clv in top 20%")


def ensure_segment(db: Path) -> None:
    from crm_analytics import segmentation
    from crm_analytics.store import Store

    with Store(db) as store:
        if BENCH_SEGMENT[0] not in set(segmentation.list_segments(store)["name"]):
            segmentation.define_segment(store, *BENCH_SEGMENT)


def queries(db: Path, n: int, seed: int) -> dict[str, list[str]]:
    """Random customers and their contact details, written as a caller would type them."""
    from crm_analytics.store import Store

    with Store(db, read_only=True) as store:
        rows = store.sql("SELECT customer_id, name, email, phone FROM customers "
                         "WHERE email IS NOT NULL AND phone IS NOT NULL")
    rows = rows.sample(n=min(n, len(rows)), random_state=seed)

    def phone(p: str) -> str:
        digits = "".join(c for c in p if c.isdigit())
        return "00" + " ".join(digits[i:i + 3] for i in range(0, len(digits), 3))

    return {
        "id": rows["customer_id"].tolist(),
        "email": [f"  {e.upper()} " for e in rows["email"]],
        "phone": [phone(p) for p in rows["phone"]],
        "name": [n.lower() for n in rows["name"]],
    }


def warm_process(db: Path, q: dict[str, list[str]], samples: int) -> dict[str, list[float]]:
    from crm_analytics.customers import customer_view, find_customers
    from crm_analytics.store import Store

    store = Store(db, read_only=True, threads=1)
    ids = q["id"][:samples]
    t = time.perf_counter()
    customer_view(store, ids[0])  # imports, query files, the custom-segment cache
    print(f"  first view (imports, custom-segment membership of the run) {time.perf_counter() - t:.2f} s")
    out = {"view, file opened per call": _timed(lambda c: customer_view(store, c), ids)}
    with store.session():
        out["view, file held open"] = _timed(lambda c: customer_view(store, c), ids)
        for kind in ("email", "phone", "name", "id"):
            out[f"search by {kind}"] = _timed(lambda x, k=kind: find_customers(store, x, by=k),
                                              q[kind][:samples])
        out["search, kind guessed (e-mail)"] = _timed(lambda x: find_customers(store, x),
                                                      q["email"][:samples])
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(port: int, path: str, timeout: float = 120) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def start_server(db: Path, port: int, workers: int | None, probe: str) -> subprocess.Popen:
    """``crm-analytics serve`` in its own process, once it answers a customer page."""
    command = [sys.executable, "-m", "crm_analytics.cli", "serve", "--db", str(db), "--port", str(port)]
    if workers is not None:
        command += ["--workers", str(workers)]
    t = time.monotonic()
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    deadline = t + 120
    while time.monotonic() < deadline:
        try:
            if _get(port, "/", timeout=5)[0] == 200:
                break
        except OSError:
            time.sleep(0.2)
    else:
        server.kill()
        raise SystemExit("the server did not start")
    up = time.monotonic() - t
    status = _get(port, f"/api/customers/{urllib.parse.quote(probe, safe='')}")[0]
    print(f"server ({workers or 'default'} workers) answered / after {up:.1f} s and its first "
          f"customer page (status {status}, custom segments computed) after "
          f"{time.monotonic() - t:.1f} s", flush=True)
    return server


def shown_run(port: int, cid: str) -> str | None:
    status, body = _get(port, f"/api/customers/{urllib.parse.quote(cid, safe='')}")
    return json.loads(body)["run"]["run_id"] if status == 200 else None


class Load:
    """``clients`` threads sending requests over keep-alive connections.

    Back to back (``think=0``), or pausing ``think`` seconds on average between two
    requests (an agent reading the card).
    """

    def __init__(self, port: int, q: dict[str, list[str]], clients: int, seed: int,
                 think: float = 0.0) -> None:
        self.port, self.q, self.clients, self.seed, self.think = port, q, clients, seed, think
        self.records: list[tuple[float, float, int, str]] = []  # (start, seconds, status, kind)
        self.stop = threading.Event()
        self._lock = threading.Lock()

    def _path(self, rng: random.Random) -> tuple[str, str]:
        r = rng.random()
        cid = urllib.parse.quote(rng.choice(self.q["id"]), safe="")
        if r < 0.6:
            return "json", f"/api/customers/{cid}"
        if r < 0.8:
            return "page", f"/customers/{cid}"
        kind = rng.choice(("email", "phone", "name"))
        return "search", "/api/search?" + urllib.parse.urlencode({"q": rng.choice(self.q[kind])})

    def _client(self, k: int) -> None:
        rng = random.Random(self.seed * 1000 + k)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        mine = []
        while not self.stop.is_set():
            kind, path = self._path(rng)
            t0 = time.monotonic()
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                status = response.status
            except OSError:
                status = -1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            mine.append((t0, time.monotonic() - t0, status, kind))
            if self.think:
                self.stop.wait(rng.uniform(0.5, 1.5) * self.think)
        with self._lock:
            self.records += mine

    def run(self, until) -> None:
        threads = [threading.Thread(target=self._client, args=(k,)) for k in range(self.clients)]
        for t in threads:
            t.start()
        until()
        self.stop.set()
        for t in threads:
            t.join()

    def report(self, label: str, since: float | None = None, before: float | None = None) -> dict:
        rows = [r for r in self.records
                if (since is None or r[0] >= since) and (before is None or r[0] < before)]
        if not rows:
            print(f"  {label}: no requests")
            return {}
        seconds = [r[1] for r in rows]
        failed = sum(1 for r in rows if r[2] != 200)
        span = max(r[0] + r[1] for r in rows) - min(r[0] for r in rows)
        print(f"  {label}: {len(rows):,} requests, {len(rows) / span:,.0f}/s, failed {failed}; "
              f"{_stats(seconds)}", flush=True)
        return {"requests": len(rows), "failed": failed, "p50_ms": float(np.median(seconds) * 1000),
                "p95_ms": float(np.percentile(seconds, 95) * 1000), "max_ms": float(max(seconds) * 1000)}


def _locks_of(pid: int, db: Path) -> set[str]:
    """Kinds of lock process ``pid`` holds on ``db`` (Linux /proc/locks)."""
    st = db.stat()
    device = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return set()
    return {f[3] for f in (line.split() for line in lines)
            if len(f) >= 6 and f[1] != "->" and f[4] == str(pid) and f[5] == device}


class LockWatch:
    """When a child process held the store file for reading and for writing."""

    def __init__(self, pid: int, db: Path) -> None:
        self.pid, self.db = pid, db
        self.read_end: float | None = None
        self.write_start: float | None = None
        self.write_end: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        reading = False
        while not self._stop.is_set():
            now, kinds = time.monotonic(), _locks_of(self.pid, self.db)
            if "READ" in kinds:
                reading = True
            elif reading:
                reading, self.read_end = False, now
            if "WRITE" in kinds:
                self.write_start = self.write_start or now
                self.write_end = now
            time.sleep(0.01)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


RUN_CHILD = """
import json, sys, time
import crm_analytics as crm
t = time.time()
result = crm.run_batch(sys.argv[1], config={"steps": json.loads(sys.argv[2]), "force": True,
                                             "model_dir": sys.argv[3]}, progress=False)
end = time.time()
print(json.dumps({"run_id": result.run_id, "started": t, "finished": end,
                  "compute_s": sum(result.step_seconds.values()), "wall_s": end - t}))
"""


def load_test(db: Path, folder: Path, q: dict[str, list[str]], clients: int, seconds: float,
              seed: int, think: float, workers: int | None) -> None:
    port = free_port()
    server = start_server(db, port, workers, q["id"][0])
    try:
        # Warm up: connections, caches, every worker's custom segments.
        warm = Load(port, q, 4, seed + 2)
        warm.run(lambda: time.sleep(5))
        pace = f"{think:g} s between requests on average" if think else "back to back"
        print(f"\nload test: {clients} clients on 127.0.0.1:{port}, {pace}, {seconds:.0f} s quiet",
              flush=True)
        quiet = Load(port, q, clients, seed, think)
        quiet.run(lambda: time.sleep(seconds))
        quiet.report("all")
        for kind in ("json", "page", "search"):
            rows = [r[1] for r in quiet.records if r[3] == kind]
            print(f"    {kind:<6}: {_stats(rows)}")

        print(f"\nload test: {clients} clients while a scoring run ({', '.join(LOAD_RUN_STEPS)}; force) "
              "computes and commits", flush=True)
        busy = Load(port, q, clients, seed + 1, think)
        child: dict = {}

        watch: list[LockWatch] = []

        def during_run() -> None:
            proc = subprocess.Popen([sys.executable, "-c", RUN_CHILD, str(db), json.dumps(LOAD_RUN_STEPS),
                                     str(folder / "models")], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            watch.append(LockWatch(proc.pid, db))
            out, err = proc.communicate(timeout=900)
            watch[0].stop()
            if proc.returncode != 0:
                print(err[-2000:])
                raise SystemExit("the scoring run failed")
            child.update(json.loads(out.strip().splitlines()[-1]))
            # Until the app shows the new run (its custom segments computed in the background
            # meanwhile, pages showing the previous run), then at least `seconds` of load in all.
            deadline = time.monotonic() + 300
            while shown_run(port, q["id"][0]) != child["run_id"] and time.monotonic() < deadline:
                time.sleep(0.2)
            child["shown_after_s"] = time.time() - child["finished"]
            time.sleep(max(2.0, seconds - (time.time() - child["started"])))

        busy.run(during_run)
        w = watch[0]
        print(f"  scoring run {child['run_id']}: {child['wall_s']:.1f} s in all, its steps "
              f"{child['compute_s']:.1f} s", flush=True)
        if w.read_end and w.write_start and w.write_end:
            print(f"  its write lock: waited {w.write_start - w.read_end:.2f} s after its reading "
                  f"ended, held {w.write_end - w.write_start:.2f} s", flush=True)
            around = (w.read_end - 1, w.write_end + 1)
        else:
            print("  (lock timings not observed: no /proc/locks)")
            end = time.monotonic() - (time.time() - child["finished"])
            around = (end - 5, end + 1)
        busy.report("all")
        busy.report(f"requests sent from 1 s before its reading ended to 1 s after its write "
                    f"({around[1] - around[0]:.1f} s)", since=around[0], before=around[1])
        committed = around[1] - 1
        after = sorted((r for r in busy.records if r[0] >= committed), key=lambda r: r[0])
        if after:
            first = after[0]
            print(f"  first request after the commit: {first[1] * 1000:.0f} ms (status {first[2]})")
        busy.report("requests sent in the 15 s after the commit (new run's custom segments "
                    "computed meanwhile)", since=committed, before=committed + 15)
        shown = shown_run(port, q["id"][0])
        print(f"  the app showed the new run {child['shown_after_s']:.1f} s after the run finished; "
              f"now it shows run {shown} "
              f"({'the new run' if shown == child['run_id'] else 'NOT the new run'})")
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", type=int, default=300, help="views and searches timed per kind")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each load phase")
    parser.add_argument("--think", type=float, default=0.0,
                        help="mean pause of a client between two requests (default 0: back to back)")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes of the app (default: serve's default)")
    parser.add_argument("--no-load-test", action="store_true")
    parser.add_argument("--load-test-only", action="store_true", help="skip the warm-process timings")
    parser.add_argument("--fresh", action="store_true", help="rebuild the cached store")
    args = parser.parse_args()

    folder, meta = prepare_store("customer_view", args.n_customers, args.seed, args.fresh, PARAMS)
    service = add_service_tables(folder)
    db = folder / "store.duckdb"
    run_id = ensure_run(db, folder)
    ensure_segment(db)
    print(f"store: {meta['n_customers']:,} customers, {meta['n_transactions']:,} transactions, "
          f"{service['tickets']:,} tickets, {service['survey_responses']:,} survey answers; "
          f"{db.stat().st_size / 2**20:,.0f} MiB; run {run_id}; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    q = queries(db, max(args.samples, 2000), args.seed)
    if not args.load_test_only:
        print("\nwarm process (one thread per query):")
        for label, seconds in warm_process(db, q, args.samples).items():
            print(f"  {label:<32} {_stats(seconds)}", flush=True)
    if not args.no_load_test:
        load_test(db, folder, q, args.clients, args.seconds, args.seed, args.think, args.workers)


if __name__ == "__main__":
    main()
