"""The benchmarks' scratch database: dropped and re-created, migrated, on evaltool's server
(EVALTOOL_DATABASE_URL's, else the embedded one)."""

import psycopg
from psycopg import sql

from evaltool import migrate

BENCH_DB = "evaltool_bench"


def bench_url(admin_url: str) -> str:
    """The URL of the bench database on the same server as admin_url."""
    params = psycopg.conninfo.conninfo_to_dict(admin_url)
    params["dbname"] = BENCH_DB
    return psycopg.conninfo.make_conninfo(**params)


def fresh_database(admin_url: str) -> str:
    """Drop and re-create the bench database, migrated; returns its URL."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(BENCH_DB))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DB)))
    url = bench_url(admin_url)
    migrate.migrate(url)
    return url


def drop_database(admin_url: str) -> None:
    """Remove the bench database."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(BENCH_DB)))
