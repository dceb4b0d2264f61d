"""Creates the PostgreSQL database named in a URL when it does not exist yet."""

import sys
from urllib.parse import unquote, urlparse

import psycopg
from psycopg import sql


def main(url: str) -> None:
    parts = urlparse(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        sys.exit(f"The benchmark runs on PostgreSQL; got {parts.scheme!r} in {url!r}.")
    name = unquote(parts.path.lstrip("/"))
    with psycopg.connect(
        host=parts.hostname or "127.0.0.1", port=parts.port or 5432, user=unquote(parts.username or "postgres"),
        password=unquote(parts.password) if parts.password else None, dbname="postgres", autocommit=True,
    ) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            print(f"Database {name} exists.")
            return
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        print(f"Database {name} created.")


if __name__ == "__main__":
    main(sys.argv[1])
