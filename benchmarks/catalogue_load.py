"""What deriving the asset pages' columns from the migrations costs each process that loads
the code location (issue 27: lib/tables.py reads names and types from resources/migrated_schema.py).

Fresh interpreters, alternating, N times each:
  whole   loads the code location as a code server or run worker does (`defs`, the asset
          graph); it reads the migrated schema once, on first use
  parts   the schema read alone, as the first DuckDB connection of its process (as at load
          time): the in-memory connection, the migrations, the catalogue queries
Prints the medians and the read's share of the whole load.

    python benchmarks/catalogue_load.py [N]        # N = 7 by default, ~1 min
"""

import json
import statistics
import subprocess
import sys

WHOLE = r"""
import json, time
t0 = time.perf_counter()
from jd_helix.definitions import defs
defs.resolve_asset_graph()
print(json.dumps({"whole_load": time.perf_counter() - t0}))
"""
PARTS = r"""
import json, time
import duckdb
from jd_helix.resources.migrations import migrate
from jd_helix.resources.migrated_schema import tables_of
t1 = time.perf_counter()
conn = duckdb.connect(":memory:")
t2 = time.perf_counter()
migrate(conn)
t3 = time.perf_counter()
tables_of(conn)
conn.close()
t4 = time.perf_counter()
print(json.dumps({"connect": t2 - t1, "migrate": t3 - t2, "read": t4 - t3, "schema_total": t4 - t1}))
"""


def run(code: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    runs = [{**run(WHOLE), **run(PARTS)} for _ in range(count)]
    for key in runs[0]:
        print(f"{key:13s} median {1000 * statistics.median(r[key] for r in runs):7.1f} ms")
    share = statistics.median(r["schema_total"] / r["whole_load"] for r in runs)
    print(f"schema read / whole code location load: {share:.1%}")


if __name__ == "__main__":
    main()
