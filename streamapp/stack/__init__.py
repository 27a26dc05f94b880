"""The embedded stack: real Apache Kafka (KRaft) and PostgreSQL, started by the project."""
