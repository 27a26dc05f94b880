"""The app's Kafka producer: what it compresses with."""

from __future__ import annotations

from typing import get_args

import pytest
from aiokafka import AIOKafkaProducer

from streamapp.app import create_app
from streamapp.settings import Settings

CHOICES = get_args(Settings.model_fields["producer_compression"].annotation)


@pytest.mark.parametrize("choice", CHOICES)
def test_the_worker_producer_compresses_with_the_set_codec(tmp_path, choice):
    settings = Settings(
        store="memory://", sink_enabled=False, state_dir=tmp_path, producer_compression=choice
    )
    codec = None if choice == "none" else choice
    assert create_app(settings).producer.compression_type == codec


@pytest.mark.parametrize("codec", [choice for choice in CHOICES if choice != "none"])
async def test_every_codec_offered_is_installed(codec):
    """aiokafka refuses to build a producer whose codec's library is missing ("Compression
    library for zstd not found"): cramjam, which the project gets through aiokafka's
    extras."""
    AIOKafkaProducer(compression_type=codec)
