"""The peer of `scripts/bench-flink`: Flink SQL (PyFlink, a local mini-cluster, parallelism 1)
reading a netkpi JSON Lines file and computing four call counts (attempts, network failures,
answered, dropped) per cell and per a coarser key (the first six characters of the cell id:
100-cell groups) in 5-minute tumbling event-time windows, with netkpi's allowed delay (30 s) as
the watermark delay. Bad lines are skipped (json.ignore-parse-errors); results go to JSON files.

Usage: python flink-calls.py INPUT OUTPUT_DIR
Prints one line: `flink: RECORDS_OUT rows, net runtime SECONDS s`.
"""

import sys

from pyflink.table import EnvironmentSettings, TableEnvironment


def main(input_path: str, output_dir: str) -> None:
    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    conf = env.get_config()
    conf.set("parallelism.default", "1")
    conf.set("pipeline.name", "netkpi-peer-call-counts")
    env.execute_sql(
        f"""
        CREATE TABLE events (
            `type` STRING,
            cell_id STRING,
            outcome STRING,
            dropped BOOLEAN,
            event_time BIGINT,
            ts AS TO_TIMESTAMP_LTZ(event_time, 3),
            WATERMARK FOR ts AS ts - INTERVAL '30' SECOND
        ) WITH (
            'connector' = 'filesystem',
            'path' = '{input_path}',
            'format' = 'json',
            'json.ignore-parse-errors' = 'true',
            'json.fail-on-missing-field' = 'false'
        )
        """
    )
    for name in ("per_cell", "per_group"):
        env.execute_sql(
            f"""
            CREATE TABLE {name} (
                window_start TIMESTAMP(3),
                k STRING,
                attempts BIGINT,
                network_failures BIGINT,
                answered BIGINT,
                drops BIGINT
            ) WITH (
                'connector' = 'filesystem',
                'path' = '{output_dir}/{name}',
                'format' = 'json'
            )
            """
        )
    counts = """
        COUNT(*) AS attempts,
        COUNT(*) FILTER (WHERE outcome = 'NETWORK_FAILURE') AS network_failures,
        COUNT(*) FILTER (WHERE outcome = 'ANSWERED') AS answered,
        COUNT(*) FILTER (WHERE outcome = 'ANSWERED' AND dropped) AS drops
    """
    calls = "TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '5' MINUTE))"
    statements = env.create_statement_set()
    statements.add_insert_sql(
        f"""
        INSERT INTO per_cell
        SELECT window_start, cell_id, {counts}
        FROM {calls} WHERE `type` = 'call'
        GROUP BY window_start, window_end, cell_id
        """
    )
    statements.add_insert_sql(
        f"""
        INSERT INTO per_group
        SELECT window_start, SUBSTRING(cell_id, 1, 6), {counts}
        FROM {calls} WHERE `type` = 'call'
        GROUP BY window_start, window_end, SUBSTRING(cell_id, 1, 6)
        """
    )
    result = statements.execute()
    client = result.get_job_client()
    job = client.get_job_execution_result().result()
    print(f"flink: net runtime {job.get_net_runtime() / 1000.0:.2f} s")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
