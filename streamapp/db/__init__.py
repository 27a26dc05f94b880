"""PostgreSQL cold storage: migrations, idempotent batched upserts, backfill, queries."""
