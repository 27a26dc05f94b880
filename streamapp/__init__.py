"""streamapp: real-time sports-data stream processing on Faust and Apache Kafka."""

__version__ = "0.1.0"
