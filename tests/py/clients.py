"""Python driver checks against a running `omicsdb serve` (psycopg 3, pandas,
SQLAlchemy). Run by tests/it/pgwire.rs with the project's virtualenv:

    python tests/py/clients.py PORT

The server must hold the test `windows` table (chrom, start, end, score,
accessible, embedding; rows chr1:0, chr1:1000, chr2:0). Exits non-zero with a
traceback on the first failed check; prints "all client checks passed".
"""

import sys

import pandas
import psycopg
import sqlalchemy
from psycopg import errors


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok:", what.split(":")[0])


def main(port):
    dsn = f"host=127.0.0.1 port={port} user=omics dbname=omicsdb connect_timeout=10"

    # psycopg 3: parameterized query (extended protocol), cursor.description.
    with psycopg.connect(dsn) as conn:
        cur = conn.execute(
            'SELECT chrom, start, "end", score, accessible, embedding FROM windows '
            "WHERE chrom = %s AND start >= %s ORDER BY start",
            ("chr1", 500),
        )
        names = [d.name for d in cur.description]
        check(names == ["chrom", "start", "end", "score", "accessible", "embedding"], f"description names: {names}")
        codes = [d.type_code for d in cur.description]
        # text, int8, int8, float4, bool, float4[]
        check(codes == [25, 20, 20, 700, 16, 1021], f"description type codes: {codes}")
        rows = cur.fetchall()
        check(rows == [("chr1", 1000, 2000, None, None, [2.0, -1.0])], f"parameterized rows: {rows}")

        cur = conn.execute("SELECT count(*) AS n FROM windows WHERE score > %s", (0.0,))
        check(cur.fetchone() == (1,), "float parameter")

        # Structs arrive as json (oid 114), which psycopg decodes into dicts.
        cur = conn.execute(
            "SELECT named_struct('chrom', chrom, 'start', start) AS r, chrom FROM windows "
            "WHERE chrom = %s ORDER BY start",
            ("chr2",),
        )
        codes = [d.type_code for d in cur.description]
        check(codes == [114, 25], f"struct column announced as json: {codes}")
        rows = cur.fetchall()
        check(rows == [({"chrom": "chr2", "start": 0}, "chr2")], f"struct rows as dicts: {rows}")

        # Savepoints inside the implicit transaction, with an error rolled
        # back to a savepoint (what psycopg's conn.transaction() does).
        with conn.transaction():
            conn.execute("SELECT 1")
        try:
            with conn.transaction():
                conn.execute("SELECT * FROM no_such_table")
            raise AssertionError("the query on a missing table succeeded")
        except errors.UndefinedTable:
            pass
        check(conn.execute("SELECT 2").fetchone() == (2,), "session usable after ROLLBACK TO SAVEPOINT")
        conn.rollback()

    # psycopg in autocommit mode, simple protocol for a parameterless query.
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute("SELECT chrom FROM windows ORDER BY chrom, start")
        check([r[0] for r in cur] == ["chr1", "chr1", "chr2"], "autocommit SELECT")

    # SQLAlchemy's postgresql dialect (connect-time queries: version(),
    # current_schema(), standard_conforming_strings, type lookups).
    engine = sqlalchemy.create_engine(f"postgresql+psycopg://omics@127.0.0.1:{port}/omicsdb")
    with engine.connect() as conn:
        n = conn.execute(
            sqlalchemy.text("SELECT count(*) FROM windows WHERE chrom = :c"), {"c": "chr1"}
        ).scalar_one()
        check(n == 2, f"SQLAlchemy SELECT with a bound parameter: {n}")
        check(engine.dialect.server_version_info[:2] == (16, 6), f"SQLAlchemy server version: {engine.dialect.server_version_info}")

        # pandas.read_sql through SQLAlchemy.
        df = pandas.read_sql(
            sqlalchemy.text('SELECT chrom, start, "end", score FROM windows ORDER BY chrom, start'), conn
        )
        check(list(df.columns) == ["chrom", "start", "end", "score"], f"read_sql columns: {list(df.columns)}")
        check(df.shape == (3, 4), f"read_sql shape: {df.shape}")
        check(df["start"].tolist() == [0, 1000, 0], f"read_sql values: {df['start'].tolist()}")
        check(str(df["start"].dtype) == "int64", f"read_sql int dtype: {df['start'].dtype}")
        check(pandas.isna(df["score"][1]) and df["score"][0] == 0.75, f"read_sql floats with NULL: {df['score'].tolist()}")
    engine.dispose()

    # pandas.read_sql with a plain psycopg connection and %s parameters.
    with psycopg.connect(dsn) as conn:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # pandas prefers SQLAlchemy
            df = pandas.read_sql("SELECT chrom, start FROM windows WHERE chrom = %s", conn, params=("chr2",))
        check(df.to_dict("records") == [{"chrom": "chr2", "start": 0}], f"read_sql on psycopg: {df}")

    print("all client checks passed")


if __name__ == "__main__":
    main(int(sys.argv[1]))
