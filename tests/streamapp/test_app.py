"""The app's Kafka producer: what it compresses with."""

from __future__ import annotations

import pytest
from aiokafka.codec import has_zstd

from streamapp.app import create_app
from streamapp.settings import Settings


@pytest.mark.parametrize(("setting", "codec"), [("zstd", "zstd"), ("none", None)])
def test_the_worker_producer_compresses_with_the_set_codec(tmp_path, setting, codec):
    settings = Settings(
        store="memory://", sink_enabled=False, state_dir=tmp_path, producer_compression=setting
    )
    assert create_app(settings).producer.compression_type == codec


def test_zstd_is_the_default_and_its_codec_is_installed():
    assert Settings.model_fields["producer_compression"].default == "zstd"
    assert has_zstd()  # aiokafka's codecs come from cramjam, a dependency of the project
